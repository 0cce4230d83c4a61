// Heap buffer overflow, write, in a C++ new[] array of structs: 20 samples of 24 bytes (480
// bytes) and a recording loop that stores one sample too many. 480 is a multiple of 16, so
// in debug mode the array ends at its guard page and the store faults; in safe mode the
// sample lands in the block's slack and delete[] finds the damaged canary. In safe mode
// sampling is off: the test is of the canary check (no sampled guard page may catch the
// write first).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 480-byte region
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: record_samples
// TALLY-EXPECT-ACCESS-FRAME: capture_channel
// TALLY-EXPECT-ALLOC-FRAME: capture_channel
#include "tally_test.h"

namespace {

struct Sample {
  double time;
  double value;
  int channel;
};
static_assert(sizeof(Sample) == 24, "24-byte samples");

constexpr int kSamples = 20;

TT_NOINLINE void record_samples(Sample* samples, int channel) {
  tt_note_bad_access(&samples[kSamples], sizeof(Sample), samples, kSamples * sizeof(Sample));
  for (int i = 0; i <= kSamples; ++i) {  // one sample too many
    samples[i].time = i * 0.25;
    samples[i].value = 1.0 + i;
    samples[i].channel = channel;
  }
}

TT_NOINLINE double capture_channel(int channel) {
  Sample* samples = new Sample[kSamples];
  record_samples(samples, channel);
  tt_after_bad_access();
  double total = 0;
  for (int i = 0; i < kSamples; ++i) total += samples[i].value;
  delete[] samples;
  return total;
}

}  // namespace

int main() {
  tt_consume(static_cast<unsigned long>(capture_channel(3)));
  return 0;
}
