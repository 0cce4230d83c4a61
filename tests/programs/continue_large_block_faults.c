// halt_on_error=0 with a large block (300 KiB, a mapping of its own): debug mode reports a
// read one past its end, in the inaccessible page it keeps after itself (tail guard), then,
// once freed, a read of it (its quarantined pages are inaccessible); each at the
// instruction, and each access runs after its report: the tail guard is taken down, the
// freed block's page is opened, and the program ends normally.
// TALLY-OPTIONS: mode=debug:halt_on_error=0
// TALLY-EXPECT-KIND: heap-buffer-overflow|heap-use-after-free
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-COUNT: 2
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-ACCESS-FRAME: peek
// TALLY-EXPECT-ALLOC-FRAME: load_image
// TALLY-EXPECT-REGEX: ERROR: tally: heap-buffer-overflow
// TALLY-EXPECT-REGEX: ERROR: tally: heap-use-after-free
// TALLY-EXPECT-REGEX: ^TALLY-TEST: survived$
// ASAN-KNOWN-ISSUE: ASan stops at the first bad access unless built with -fsanitize-recover=address
#include <string.h>

#include "tally_test.h"

#define IMAGE_BYTES (300u * 1024u)

static TT_NOINLINE char* load_image(void) {
  char* image = (char*)malloc(IMAGE_BYTES);
  TT_CHECK(image != NULL);
  memset(image, 'i', IMAGE_BYTES);
  return image;
}

static TT_NOINLINE void discard_image(char* image) {
  free(image);
}

static TT_NOINLINE char peek(const char* image, size_t offset, size_t block_size) {
  tt_note_bad_access(image + offset, 1, image, block_size);
  char value = ((const volatile char*)image)[offset];
  tt_after_bad_access();
  return value;
}

int main(void) {
  char* image = load_image();
  tt_consume((unsigned long)peek(image, IMAGE_BYTES, IMAGE_BYTES));
  discard_image(image);
  tt_consume((unsigned long)peek(image, 4096 * 3 + 5, IMAGE_BYTES));
  char* next = load_image();
  TT_CHECK(next[IMAGE_BYTES - 1] == 'i');
  free(next);
  tt_survived();
  return 0;
}
