// Heap buffer overflow, read past the end of a 1 MiB block (a large block: it has a
// mapping of its own): an image filter reads the pixel after the last row. Debug mode
// leaves an inaccessible page after every large block, and a block of whole pages ends
// right at it, so the first byte past the end faults; sizes that are not whole pages are
// caught from their next page on (the canary covers the rest, for writes).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 1048576-byte region
// TALLY-EXPECT-ACCESS-FRAME: smooth_image
// TALLY-EXPECT-ALLOC-FRAME: new_image
#include <stdint.h>

#include "tally_test.h"

#define WIDTH 512
#define HEIGHT 512 /* 512 x 512 pixels of 4 bytes: 1 MiB */

static TT_NOINLINE uint32_t* new_image(void) {
  uint32_t* pixels = (uint32_t*)malloc((size_t)WIDTH * HEIGHT * sizeof(uint32_t));
  TT_CHECK(pixels != NULL);
  for (size_t i = 0; i < (size_t)WIDTH * HEIGHT; ++i) pixels[i] = (uint32_t)(i * 2654435761u);
  return pixels;
}

/* Averages each pixel with its right neighbour, including the last one's (out of bounds). */
static TT_NOINLINE unsigned long smooth_image(const uint32_t* pixels) {
  unsigned long sum = 0;
  size_t count = (size_t)WIDTH * HEIGHT;
  tt_note_bad_access(pixels + count, 4, pixels, count * sizeof(uint32_t));
  for (size_t i = 0; i < count; ++i) sum += (pixels[i] + pixels[i + 1]) / 2;
  tt_after_bad_access();
  return sum;
}

int main(void) {
  uint32_t* pixels = new_image();
  tt_consume(smooth_image(pixels));
  free(pixels);
  return 0;
}
