// Use after free, read, through a std::string_view of a temporary std::string: the view is
// initialised from the path a function returns by value, and the string (longer than the
// short-string buffer, so its characters are on the heap) is destroyed at the end of that
// full expression; the view then dangles, and counting the path's components reads the
// freed characters. debug mode catches the read (the freed block's page is inaccessible);
// safe mode reads the poison and goes on, unless the block was a sampled guarded one; fast
// mode reads the stale characters.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: count_components
// TALLY-EXPECT-ACCESS-FRAME: open_desktop_entry
// TALLY-EXPECT-FREE-FRAME: open_desktop_entry
// TALLY-EXPECT-ALLOC-FRAME: build_path
/* The dangling view below is the point of the test: keep clang's lifetime check quiet. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wdangling-gsl"
#endif
#include <cstring>
#include <string>
#include <string_view>

#include "tally_test.h"

namespace {

TT_NOINLINE std::string build_path(const char* directory, const char* file) {
  std::string path;
  path.reserve(std::strlen(directory) + 1 + std::strlen(file));
  path += directory;
  path += '/';
  path += file;
  TT_PRECONDITION(path.capacity() == path.size());  // the block holds size() + 1 bytes
  return path;
}

TT_NOINLINE int count_components(std::string_view path) {
  tt_note_bad_access(path.data(), path.size(), path.data(), path.size() + 1);
  int components = 0;
  for (char c : path) components += (c == '/');
  tt_after_bad_access();
  return components;
}

TT_NOINLINE int open_desktop_entry() {
  // The string returned by build_path dies at the end of this declaration.
  std::string_view path = build_path("/usr/local/share/applications", "tally-report.desktop");
  return count_components(path);
}

}  // namespace

int main() {
  tt_consume(static_cast<unsigned long>(open_desktop_entry()));
  return 0;
}
