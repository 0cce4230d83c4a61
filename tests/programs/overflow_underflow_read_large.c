// Heap buffer underflow, read, large block: a 300,000-byte audio buffer (a large block,
// with a mapping of its own) is filtered with a window that starts one sample before the
// first. A large block starts at the start of its mapping, so the byte before it is not
// tally's: where nothing is mapped there (as here, with no mapping made since the block's)
// the read faults, and safe and debug mode name the block it fell short of. Where another
// mapping lies below, the read goes unseen: page protection can guard a large block's end
// or its start, and debug mode guards its end. Fast mode has no fault handler: the process
// dies of the SIGSEGV.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-STATUS[mode=fast]: SIGSEGV
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 1 bytes to the left of 300000-byte region
// TALLY-EXPECT-ACCESS-FRAME: smooth_samples
// TALLY-EXPECT-ALLOC-FRAME: new_audio_buffer
#include "tally_test.h"

#define SAMPLES 300000

static TT_NOINLINE signed char* new_audio_buffer(void) {
  signed char* samples = (signed char*)malloc(SAMPLES);
  TT_CHECK(samples != NULL);
  for (int i = 0; i < SAMPLES; ++i) samples[i] = (signed char)(i % 61 - 30);
  return samples;
}

/* Three-sample moving average; the first window starts at index -1 (should be 0). */
static TT_NOINLINE long smooth_samples(const volatile signed char* samples) {
  long total = 0;
  tt_note_bad_access(&samples[-1], 1, samples, SAMPLES);
  for (int i = 0; i + 1 < SAMPLES; ++i) total += samples[i - 1] + samples[i] + samples[i + 1];
  tt_after_bad_access();
  return total / 3;
}

int main(void) {
  signed char* samples = new_audio_buffer();
  tt_consume((unsigned long)smooth_samples(samples));
  free(samples);
  return 0;
}
