// `delete[]` twice (C++), on an array of a trivially destructible type (no array cookie,
// no destructors run over freed memory).
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: discard_samples
#include "tally_test.h"

namespace {

constexpr int kSamples = 256;

TT_NOINLINE int* record_samples() {
  int* samples = new int[kSamples];
  for (int i = 0; i < kSamples; ++i) samples[i] = i * i;
  return samples;
}

TT_NOINLINE void discard_samples(int* samples) {
  delete[] samples;
}

}  // namespace

int main() {
  int* samples = record_samples();
  long sum = 0;
  for (int i = 0; i < kSamples; ++i) sum += samples[i];
  TT_CHECK(sum > 0);
  discard_samples(samples);
  tt_note_bad_free(samples, samples, sizeof(int) * kSamples);
  discard_samples(samples);
  tt_survived();
  return 0;
}
