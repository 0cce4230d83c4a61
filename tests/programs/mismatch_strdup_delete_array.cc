// Mismatched deallocation, malloc / delete[]: a name copied with strdup (which allocates
// with malloc) is released with delete[] as if it came from new char[]. The allocation
// stack runs through the C library's strdup, which keeps no frame pointer: naming
// copy_name needs an unwinder that gets through it.
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: forget_name
// TALLY-EXPECT-ALLOC-FRAME: copy_name
#include <cstring>

#include "tally_test.h"

namespace {

TT_NOINLINE char* copy_name(const char* name) {
  char* copy = strdup(name);
  TT_CHECK(copy != nullptr);
  return copy;
}

TT_NOINLINE void forget_name(char* name) {
  tt_note_bad_free(name, name, std::strlen(name) + 1);
  delete[] name;  // should be free()
}

}  // namespace

int main() {
  char* name = copy_name("grace.hopper");
  forget_name(name);
  tt_survived();
  return 0;
}
