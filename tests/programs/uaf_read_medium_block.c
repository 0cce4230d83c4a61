// Use after free, read, of a 96 KB block (between 64 KiB and 256 KiB, the largest small
// block): a decoder frees its window buffer when the stream ends and a late lookup still
// reads from it. Debug mode guards every small block, so the freed block's pages are
// inaccessible and the read faults (blocks of this size had no guard page before the pool's
// slots grew to 256 KiB); safe mode catches it only if the block was sampled.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 50000 bytes inside of 98304-byte region
// TALLY-EXPECT-ACCESS-FRAME: window_lookup
// TALLY-EXPECT-FREE-FRAME: end_of_stream
// TALLY-EXPECT-ALLOC-FRAME: open_window
#include "tally_test.h"

#define WINDOW_BYTES 98304u /* 96 KiB */

static TT_NOINLINE unsigned char* open_window(void) {
  unsigned char* window = (unsigned char*)malloc(WINDOW_BYTES);
  TT_CHECK(window != NULL);
  for (size_t i = 0; i < WINDOW_BYTES; ++i) window[i] = (unsigned char)(i * 13);
  return window;
}

static TT_NOINLINE void end_of_stream(unsigned char* window) {
  free(window);
}

static TT_NOINLINE unsigned long window_lookup(const unsigned char* window, size_t distance) {
  const unsigned char* match = window + distance;
  tt_note_bad_access(match, 16, window, WINDOW_BYTES);
  unsigned long sum = 0;
  for (int i = 0; i < 16; ++i) sum += match[i];
  tt_after_bad_access();
  return sum;
}

int main(void) {
  unsigned char* window = open_window();
  end_of_stream(window);
  tt_consume(window_lookup(window, 50000));
  return 0;
}
