// Heap buffer overflow, write, through std::vector::operator[] one past the end: a
// histogram of 16 buckets (64 bytes, exactly what std::vector allocates) indexed with a
// bucket computed as value * 16 / max, which is 16 for the maximum value. In debug mode
// the vector's storage ends at its guard page and the store faults; in safe mode the
// storage has a byte of slack past its 64 bytes (canary_slack), and the vector's
// destructor frees it with the canary damaged.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-REGEX[mode=debug,asan]: is located 0 bytes to the right of 64-byte region
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: mark_bucket
// TALLY-EXPECT-ALLOC-FRAME: make_histogram
#include <vector>

#include "tally_test.h"

namespace {

constexpr int kBuckets = 16;
constexpr int kMaxValue = 1000;

TT_NOINLINE std::vector<int> make_histogram() {
  return std::vector<int>(kBuckets);
}

TT_NOINLINE void mark_bucket(std::vector<int>& histogram, int value) {
  int bucket = value * kBuckets / kMaxValue;  // kBuckets when value == kMaxValue
  if (bucket == kBuckets)
    tt_note_bad_access(histogram.data() + bucket, sizeof(int), histogram.data(),
                       histogram.capacity() * sizeof(int));
  histogram[static_cast<size_t>(bucket)] = value;
  if (bucket == kBuckets) tt_after_bad_access();
}

}  // namespace

int main() {
  std::vector<int> histogram = make_histogram();
  TT_PRECONDITION(histogram.capacity() == kBuckets);
  const int values[] = {3, 250, 999, kMaxValue};
  for (int value : values) mark_bucket(histogram, value);
  return 0;
}
