// Heap buffer overflow, read past the end by strlen: a tag is copied into a buffer of
// exactly its length without a terminator, and strlen runs off the end. In debug mode the
// 32-byte block ends at its guard page and strlen faults there (inside the C library,
// called from tag_length).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-buffer-overflow
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located \d+ bytes to the right of 32-byte region
// TALLY-EXPECT-ACCESS-FRAME: tag_length
// TALLY-EXPECT-ALLOC-FRAME: copy_tag
#include <string.h>

#include "tally_test.h"

#define TAG_BYTES 32

static TT_NOINLINE char* copy_tag(const char* tag) {
  char* copy = (char*)malloc(TAG_BYTES);
  TT_CHECK(copy != NULL);
  memcpy(copy, tag, TAG_BYTES); /* all 32 characters, no terminator */
  return copy;
}

static TT_NOINLINE size_t tag_length(const char* tag) {
  tt_note_bad_access(tag + TAG_BYTES, 4096, tag, TAG_BYTES);
  size_t length = strlen(tag);
  tt_after_bad_access();
  return length;
}

int main(void) {
  char* tag = copy_tag("release-2024.11.21-build.000417+x");
  tt_consume(tag_length(tag));
  free(tag);
  return 0;
}
