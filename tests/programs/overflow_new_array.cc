// Heap buffer overflow, write, in a C++ new[] array: 25 buckets (100 bytes) filled with
// a loop bound of <=. The extra int lands in the block's slack: safe and debug mode see
// the damaged canary at delete[]; ASan catches the store.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 100-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: fill_buckets
// TALLY-EXPECT-ACCESS-FRAME: build_histogram
// TALLY-EXPECT-ALLOC-FRAME: make_buckets
#include "tally_test.h"

namespace {

constexpr int kBuckets = 25;

TT_NOINLINE int* make_buckets() {
  return new int[kBuckets];
}

TT_NOINLINE void fill_buckets(int* buckets, const int* values, int count) {
  for (int i = 0; i <= kBuckets; ++i) buckets[i] = 0;  // one bucket too many
  for (int i = 0; i < count; ++i) buckets[values[i] % kBuckets] += 1;
}

TT_NOINLINE void release_buckets(int* buckets) {
  delete[] buckets;
}

TT_NOINLINE int build_histogram(const int* values, int count) {
  int* buckets = make_buckets();
  tt_note_bad_access(&buckets[kBuckets], sizeof(int), buckets, kBuckets * sizeof(int));
  fill_buckets(buckets, values, count);
  tt_after_bad_access();
  int largest = 0;
  for (int i = 0; i < kBuckets; ++i) largest = buckets[i] > largest ? buckets[i] : largest;
  release_buckets(buckets);
  return largest;
}

}  // namespace

int main() {
  int values[100];
  for (int i = 0; i < 100; ++i) values[i] = i * 7;
  tt_consume(static_cast<unsigned long>(build_histogram(values, 100)));
  return 0;
}
