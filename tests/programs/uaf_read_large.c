// Use after free, read, large block (2 MB): the renderer releases a frame, then the
// statistics pass still reads pixels of it. debug mode runs with guard_max_size=4 MiB
// so that the block gets guard pages and its pages become inaccessible when freed: the
// read faults. fast mode makes no promise about a freed large mapping (tally keeps it a
// while; if it is gone, the read faults with no report): exit 0 or SIGSEGV.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-STATUS[mode=fast]: 0|SIGSEGV
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-OPTIONS[mode=debug]: guard_max_size=4194304
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: frame_checksum
// TALLY-EXPECT-FREE-FRAME: release_frame
// TALLY-EXPECT-ALLOC-FRAME: render_frame
#include <string.h>

#include "tally_test.h"

#define FRAME_BYTES 2000000u /* 2 MB, not a multiple of the page size */

static TT_NOINLINE unsigned char* render_frame(void) {
  unsigned char* pixels = (unsigned char*)malloc(FRAME_BYTES);
  TT_CHECK(pixels != NULL);
  for (size_t i = 0; i < FRAME_BYTES; i += 4096) pixels[i] = (unsigned char)(i >> 12);
  return pixels;
}

static TT_NOINLINE void release_frame(unsigned char* pixels) {
  free(pixels);
}

static TT_NOINLINE unsigned long frame_checksum(const unsigned char* pixels) {
  const unsigned char* row = pixels + 1000000;
  tt_note_bad_access(row, 64, pixels, FRAME_BYTES);
  unsigned long sum = 0;
  for (int i = 0; i < 64; ++i) sum += row[i];
  tt_after_bad_access();
  return sum;
}

int main(void) {
  unsigned char* frame = render_frame();
  release_frame(frame);
  tt_consume(frame_checksum(frame));
  return 0;
}
