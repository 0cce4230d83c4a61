// Heap buffer overflow, write, off by one: a name is copied into a buffer of strlen()
// bytes (the +1 for the terminator is forgotten) and the terminator lands one byte past
// the end. 37 bytes requested: the byte after them is slack of the block, so safe mode's
// canary (and debug mode's, the block being 16-byte aligned against its guard page) sees
// the damage when the name is freed; ASan catches the store.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 37-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: copy_name
// TALLY-EXPECT-ACCESS-FRAME: register_user
// TALLY-EXPECT-ALLOC-FRAME: copy_name
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE char* copy_name(const char* name) {
  size_t length = strlen(name);
  char* copy = (char*)malloc(length); /* should be length + 1 */
  TT_CHECK(copy != NULL);
  memcpy(copy, name, length);
  tt_note_bad_access(copy + length, 1, copy, length);
  copy[length] = '\0';
  tt_after_bad_access();
  return copy;
}

static TT_NOINLINE int register_user(const char* name) {
  char* copy = copy_name(name);
  int at = strchr(copy, '@') != NULL;
  free(copy);
  return at;
}

int main(void) {
  const char* name = "margaret.hamilton@apollo1.example.org"; /* 37 characters */
  TT_PRECONDITION(strlen(name) == 37);
  TT_CHECK(register_user(name) == 1);
  return 0;
}
