// Double free of a large (8 MiB) block, the kind that gets its own mapping.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: unload_image
#include <string.h>

#include "tally_test.h"

#define IMAGE_BYTES (8u << 20)

struct image {
  unsigned char* pixels;
  size_t bytes;
};

static TT_NOINLINE void load_image(struct image* image) {
  image->bytes = IMAGE_BYTES;
  image->pixels = (unsigned char*)malloc(image->bytes);
  TT_CHECK(image->pixels != NULL);
  memset(image->pixels, 0x7f, image->bytes);
}

static TT_NOINLINE void unload_image(struct image* image) {
  free(image->pixels);
}

int main(void) {
  struct image image;
  load_image(&image);
  unload_image(&image);
  tt_note_bad_free(image.pixels, image.pixels, image.bytes);
  unload_image(&image);
  tt_survived();
  return 0;
}
