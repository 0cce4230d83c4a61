// Heap buffer overflow, write, in a struct's trailing (flexible) array: code that moved
// from the old "double values[1]" idiom to a flexible array member still allocates
// count - 1 elements, so storing the last value writes 8 bytes past the block (72 bytes
// requested: the value lands in the slack, found by the canary at free).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 72-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: fill_series
// TALLY-EXPECT-ACCESS-FRAME: summarize
// TALLY-EXPECT-ALLOC-FRAME: new_series
#include "tally_test.h"

struct series {
  size_t count;
  double values[];
};

static TT_NOINLINE struct series* new_series(size_t count) {
  /* the old struct had values[1]: "one is already included" */
  size_t bytes = sizeof(struct series) + (count - 1) * sizeof(double);
  struct series* series = (struct series*)malloc(bytes);
  TT_CHECK(series != NULL);
  series->count = count;
  return series;
}

static TT_NOINLINE void fill_series(struct series* series) {
  for (size_t i = 0; i < series->count; ++i) series->values[i] = 0.5 + (double)i;
}

static TT_NOINLINE double summarize(size_t count) {
  struct series* series = new_series(count);
  size_t bytes = sizeof(struct series) + (count - 1) * sizeof(double);
  tt_note_bad_access(&series->values[count - 1], sizeof(double), series, bytes);
  fill_series(series);
  tt_after_bad_access();
  double sum = 0;
  for (size_t i = 0; i + 1 < count; ++i) sum += series->values[i];
  free(series);
  return sum;
}

int main(void) {
  tt_consume((unsigned long)summarize(9)); /* 8 + 8 * 8 = 72 bytes */
  return 0;
}
