// Free of an interior pointer into a block that is already free: not a double free (the
// pointer was never handed out), and no "located inside of region" line since the block
// is not live.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: drop_field
#include <string.h>

/* The use after free below is the point of the test: keep gcc quiet about it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

#include "tally_test.h"

#define RECORD_BYTES 48
#define FIELD_OFFSET 16

static TT_NOINLINE void drop_field(char* field) {
  free(field);
}

int main(void) {
  char* record = (char*)malloc(RECORD_BYTES);
  TT_CHECK(record != NULL);
  memset(record, 'r', RECORD_BYTES);
  char* field = record + FIELD_OFFSET;
  free(record);
  tt_note_bad_free(field, NULL, 0);
  drop_field(field);
  tt_survived();
  return 0;
}
