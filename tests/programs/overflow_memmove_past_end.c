// Heap buffer overflow, write, memmove past the end: to open a 10-byte gap at offset 10
// of a full 4000-byte text buffer, the editor moves the tail by the gap but with the
// length of the whole tail (it should drop the 10 bytes that no longer fit), so the move
// writes 10 bytes past the end. The ranges overlap and memmove copies backwards: its
// first stores are the ones past the end. 4000 is a multiple of 16: in debug mode the
// buffer ends at its guard page and the move faults inside memmove; in safe mode the
// canary in the block's slack is found damaged when the buffer is freed (or, if the block
// was a sampled guarded one, the move faults).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located \d+ bytes to the right of 4000-byte region
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: insert_gap
// TALLY-EXPECT-ACCESS-FRAME: edit_buffer
// TALLY-EXPECT-ALLOC-FRAME: edit_buffer
#include <string.h>

#include "tally_test.h"

#define TEXT_BYTES 4000
#define GAP_AT 10
#define GAP_BYTES 10

static TT_NOINLINE void insert_gap(char* text, size_t length, size_t at, size_t gap) {
  tt_note_bad_access(text + length, gap, text, length);
  memmove(text + at + gap, text + at, length - at); /* should move length - at - gap */
  tt_after_bad_access();
  memset(text + at, ' ', gap);
}

static TT_NOINLINE int edit_buffer(void) {
  char* text = (char*)malloc(TEXT_BYTES);
  TT_CHECK(text != NULL);
  memset(text, 'x', TEXT_BYTES);
  insert_gap(text, TEXT_BYTES, GAP_AT, GAP_BYTES);
  int ok = text[GAP_AT] == ' ' && text[GAP_AT + GAP_BYTES] == 'x';
  free(text);
  return ok;
}

int main(void) {
  TT_CHECK(edit_buffer() == 1);
  return 0;
}
