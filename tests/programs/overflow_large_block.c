// Heap buffer overflow, write, past the end of a large block (1 MiB + 1000 bytes): the
// image loader copies the file's 8-byte trailer one record too far. The block is larger
// than guard_max_size, so even debug mode finds it by the canary at free.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 1049576-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: copy_trailer
// TALLY-EXPECT-ACCESS-FRAME: load_image
// TALLY-EXPECT-ALLOC-FRAME: load_image
#include <string.h>

#include "tally_test.h"

#define IMAGE_BYTES (1048576u + 1000u)

static TT_NOINLINE void copy_trailer(unsigned char* image, size_t image_bytes) {
  static const unsigned char trailer[8] = {'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  tt_note_bad_access(image + image_bytes, sizeof(trailer), image, image_bytes);
  memcpy(image + image_bytes, trailer, sizeof(trailer)); /* should be image_bytes - 8 */
  tt_after_bad_access();
}

static TT_NOINLINE unsigned load_image(void) {
  unsigned char* image = (unsigned char*)malloc(IMAGE_BYTES);
  TT_CHECK(image != NULL);
  memset(image, 0x11, IMAGE_BYTES);
  copy_trailer(image, IMAGE_BYTES);
  unsigned sum = image[0] + image[IMAGE_BYTES - 1];
  free(image);
  return sum;
}

int main(void) {
  tt_consume(load_image());
  return 0;
}
