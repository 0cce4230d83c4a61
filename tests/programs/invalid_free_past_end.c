// Free of the pointer just past the end of a block: an off-by-one cursor (end of a 100-byte
// record) is freed instead of its start. 100 is not a multiple of malloc's 16-byte
// alignment, so the pointer cannot be the start of any neighbouring block: it is an
// unambiguous bad free. With a usable size rounded up past 100 it is inside the block
// (tally's fast mode: "100 bytes inside of N-byte region"); ASan, and tally's safe and
// debug modes, which describe the requested size, say "0 bytes to the right of 100-byte
// region".
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX[mode=fast]: is located 100 bytes inside of \d+-byte region
// TALLY-EXPECT-REGEX[mode=safe,debug]: is located 0 bytes to the right of 100-byte region
// TALLY-EXPECT-FRAME: release_record
// ASAN-EXPECT-REGEX: is located 0 bytes to the right of 100-byte region
#include <string.h>

#include "tally_test.h"

#define RECORD_BYTES 100

static TT_NOINLINE char* fill_record(char* record) {
  char* cursor = record;
  for (int i = 0; i < RECORD_BYTES; ++i) *cursor++ = (char)('a' + i % 26);
  return cursor; /* one past the end */
}

static TT_NOINLINE void release_record(char* record) {
  free(record);
}

int main(void) {
  char* record = (char*)malloc(RECORD_BYTES);
  TT_CHECK(record != NULL);
  char* end = fill_record(record);
  tt_note_bad_free(end, record, RECORD_BYTES);
  release_record(end); /* meant release_record(record) */
  tt_survived();
  free(record);
  return 0;
}
