// Heap buffer overflow far past the end of a large block: a log buffer of 2 MiB is shrunk
// to 1 MiB once the burst is over, and the writer keeps appending at the offset its stale
// capacity allows, half a MiB past the new end. Debug mode makes the whole rest of a large
// block's reservation inaccessible (not just the page after its last), so the write faults
// however far past the end it lands. Safe mode shrinks the block in place and the stale
// tail is still mapped: the write goes unnoticed there. AddressSanitizer's realloc moves
// the block, and the write lands half a MiB past its redzone: in the old block (reported as
// a use after free) or in memory it does not watch, depending on where the new block went.
// memcheck reports an invalid write into memory no block holds.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none
// ASAN-KNOWN-ISSUE: the write lands in the old block (a use after free of it) or unwatched memory
// TALLY-EXPECT-ACCESS: WRITE
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 524288 bytes to the right of 1048576-byte region
// TALLY-EXPECT-ACCESS-FRAME: append_record
// TALLY-EXPECT-ALLOC-FRAME: shrink_log
#include <string.h>

#include "tally_test.h"

#define BURST_BYTES (2u << 20)
#define QUIET_BYTES (1u << 20)

static TT_NOINLINE char* shrink_log(char* log) {
  char* smaller = (char*)realloc(log, QUIET_BYTES);
  TT_CHECK(smaller != NULL);
  return smaller;
}

static TT_NOINLINE void append_record(char* log, size_t offset) {
  static const char record[16] = "tick 0000000042";
  tt_note_bad_access(log + offset, sizeof(record), log, QUIET_BYTES);
  memcpy(log + offset, record, sizeof(record));
  tt_after_bad_access();
}

int main(void) {
  char* log = (char*)malloc(BURST_BYTES);
  TT_CHECK(log != NULL);
  memset(log, '.', BURST_BYTES);
  log = shrink_log(log);
  append_record(log, QUIET_BYTES + QUIET_BYTES / 2); /* the offset the old capacity allowed */
  free(log);
  return 0;
}
