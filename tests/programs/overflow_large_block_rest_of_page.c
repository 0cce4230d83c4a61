// Heap buffer overflow, write, 1200 bytes past the end of a large block (1 MiB + 1000
// bytes): the image writer stores its 8-byte footer at the offset of a header that is 1200
// bytes longer than the one it allocated for. The write lands in the rest of the block's
// last page, past the first 256 bytes of slack that a small block's canary covers and
// before the page where debug mode's tail guard starts: the canary of a large block covers
// the whole rest of its last page, so safe and debug mode report it at free.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 1200 bytes to the right of 1049576-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: write_footer
// TALLY-EXPECT-ACCESS-FRAME: save_image
// TALLY-EXPECT-ALLOC-FRAME: save_image
#include <string.h>

#include "tally_test.h"

#define IMAGE_BYTES (1048576u + 1000u)
#define FOOTER_OFFSET_MISTAKE 1200u

static TT_NOINLINE void write_footer(unsigned char* image, size_t footer_at) {
  static const unsigned char footer[8] = {'E', 'O', 'F', 0, 0x12, 0x34, 0x56, 0x78};
  tt_note_bad_access(image + footer_at, sizeof(footer), image, IMAGE_BYTES);
  memcpy(image + footer_at, footer, sizeof(footer));
  tt_after_bad_access();
}

static TT_NOINLINE unsigned save_image(void) {
  unsigned char* image = (unsigned char*)malloc(IMAGE_BYTES);
  TT_CHECK(image != NULL);
  memset(image, 0x22, IMAGE_BYTES);
  write_footer(image, IMAGE_BYTES + FOOTER_OFFSET_MISTAKE); /* should be IMAGE_BYTES - 8 */
  unsigned sum = image[0] + image[IMAGE_BYTES - 1];
  free(image);
  return sum;
}

int main(void) {
  tt_consume(save_image());
  return 0;
}
