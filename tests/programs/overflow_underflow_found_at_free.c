// Heap buffer underflow, write, a[-1]: a search returns -1 for "not found" and the caller
// bumps the counter at that index, the int before a counters array. With the guard page
// after the block (debug mode's default side) the store does not fault; the bytes before
// a guarded block are a canary too, so the free finds them changed.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-buffer-overflow
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 4 bytes to the left of 48-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: bump_counter
// TALLY-EXPECT-ACCESS-FRAME: count_word
// TALLY-EXPECT-ALLOC-FRAME: new_counters
#include "tally_test.h"

#define COUNTERS 12

static TT_NOINLINE int* new_counters(void) {
  int* counters = (int*)malloc(COUNTERS * sizeof(int));
  TT_CHECK(counters != NULL);
  for (int i = 0; i < COUNTERS; ++i) counters[i] = 0;
  return counters;
}

static TT_NOINLINE int find_word(const char* const* words, const char* word) {
  for (int i = 0; i < COUNTERS && words[i]; ++i)
    if (words[i][0] == word[0]) return i;
  return -1;
}

static TT_NOINLINE void bump_counter(int* counters, int index) {
  tt_note_bad_access(&counters[index], sizeof(int), counters, COUNTERS * sizeof(int));
  counters[index] += 1;
  tt_after_bad_access();
}

static TT_NOINLINE void release_counters(int* counters) {
  free(counters);
}

static TT_NOINLINE int count_word(const char* word) {
  static const char* const kWords[] = {"alpha", "beta", "gamma", 0};
  int* counters = new_counters();
  bump_counter(counters, find_word(kWords, word)); /* "zeta" is not there: index -1 */
  int total = counters[0];
  release_counters(counters);
  return total;
}

int main(void) {
  tt_consume((unsigned long)count_word("zeta"));
  return 0;
}
