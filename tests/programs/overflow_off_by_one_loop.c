// Heap buffer overflow, write, off by one in a loop bound (<= instead of <): a histogram
// of 16 counters (64 bytes) is cleared one counter too far. 64 is a multiple of 16, so in
// debug mode the block ends exactly at its guard page and the store faults. In safe mode
// 64 bytes fill a size class, and the block gets the next class for a byte of slack
// (canary_slack): the canary there is found damaged when the block is freed.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-REGEX[mode=debug,asan]: is located 0 bytes to the right of 64-byte region
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: clear_histogram
// TALLY-EXPECT-ALLOC-FRAME: new_histogram
#include "tally_test.h"

#define BUCKETS 16

static TT_NOINLINE int* new_histogram(void) {
  int* counts = (int*)malloc(BUCKETS * sizeof(int));
  TT_CHECK(counts != NULL);
  return counts;
}

static TT_NOINLINE void clear_histogram(int* counts) {
  tt_note_bad_access(&counts[BUCKETS], sizeof(int), counts, BUCKETS * sizeof(int));
  for (int i = 0; i <= BUCKETS; ++i) counts[i] = 0; /* one too many */
  tt_after_bad_access();
}

int main(void) {
  int* counts = new_histogram();
  clear_histogram(counts);
  counts[3] = 7;
  free(counts);
  tt_survived();
  return 0;
}
