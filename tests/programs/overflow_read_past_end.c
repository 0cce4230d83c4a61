// Heap buffer overflow, read past the end: the average of 64 latency samples is computed
// with a loop bound of <= and reads one sample past the array. Reads change nothing, so
// only a caught access reports it: debug mode (256 bytes, flush against the guard page),
// a sampled guard page in safe mode, ASan.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-buffer-overflow
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 256-byte region
// TALLY-EXPECT-ACCESS-FRAME: average_latency
// TALLY-EXPECT-ALLOC-FRAME: collect_latencies
#include "tally_test.h"

#define SAMPLES 64

static TT_NOINLINE int* collect_latencies(void) {
  int* latencies = (int*)malloc(SAMPLES * sizeof(int));
  TT_CHECK(latencies != NULL);
  for (int i = 0; i < SAMPLES; ++i) latencies[i] = 100 + (i * 37) % 50;
  return latencies;
}

static TT_NOINLINE long average_latency(const int* latencies, int count) {
  long sum = 0;
  tt_note_bad_access(&latencies[count], sizeof(int), latencies, (size_t)count * sizeof(int));
  for (int i = 0; i <= count; ++i) sum += latencies[i]; /* one too many */
  tt_after_bad_access();
  return sum / count;
}

int main(void) {
  int* latencies = collect_latencies();
  tt_consume((unsigned long)average_latency(latencies, SAMPLES));
  free(latencies);
  return 0;
}
