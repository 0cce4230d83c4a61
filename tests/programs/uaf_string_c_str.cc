// Use after free, read, through a std::string's buffer: the router keeps c_str() of the
// spool path, appends the file name (the string outgrows its capacity and reallocates),
// then hashes the path through the pointer it kept.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: hash_path
// TALLY-EXPECT-ACCESS-FRAME: route_batch
// TALLY-EXPECT-FREE-FRAME: append_file_name
// TALLY-EXPECT-ALLOC-FRAME: make_spool_path
#include <string>

#include "tally_test.h"

namespace {

TT_NOINLINE std::string make_spool_path() {
  return std::string("/var/lib/tally/spool/");  // 21 characters: on the heap, capacity 21
}

TT_NOINLINE void append_file_name(std::string& path, const char* name) {
  path += name;
}

TT_NOINLINE unsigned hash_path(const char* path) {
  unsigned hash = 2166136261u;
  for (const char* c = path; *c != '\0'; ++c)
    hash = (hash ^ static_cast<unsigned char>(*c)) * 16777619u;
  return hash;
}

TT_NOINLINE unsigned route_batch(std::string& path) {
  const char* directory = path.c_str();
  size_t old_capacity = path.capacity();
  size_t directory_length = path.size();
  append_file_name(path, "incoming/2024/batch-000017.dat");
  TT_PRECONDITION(path.c_str() != directory);
  tt_note_bad_access(directory, directory_length + 1, directory, old_capacity + 1);
  unsigned hash = hash_path(directory);  // the old buffer was freed by the append
  tt_after_bad_access();
  return hash;
}

}  // namespace

int main() {
  std::string path = make_spool_path();
  TT_PRECONDITION(path.capacity() < 40);
  tt_consume(route_batch(path));
  return 0;
}
