// halt_on_error=0, a malloc'd array deleted with (sized) `delete`: one report, the
// alloc-dealloc-mismatch. The size that delete passes is the element type's, which says
// nothing about a block new never made; a second report (new-delete-type-mismatch, with
// advice about virtual destructors) followed the first before.
// TALLY-OPTIONS: mode=debug:halt_on_error=0
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-COUNT: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: release_samples
// TALLY-EXPECT-ALLOC-FRAME: load_samples
// TALLY-EXPECT-NO-REGEX: new-delete-type-mismatch
#include <cstdlib>
#include <cstring>

#include "tally_test.h"

struct sample {
  double value;
  long time;
};

static TT_NOINLINE sample* load_samples(size_t count) {
  sample* samples = static_cast<sample*>(std::malloc(count * sizeof(sample)));
  TT_CHECK(samples != nullptr);
  std::memset(samples, 0, count * sizeof(sample));
  return samples;
}

static TT_NOINLINE void release_samples(sample* samples) {
  delete samples;  // sized delete of 16 bytes; the block is 160, from malloc
}

int main() {
  sample* samples = load_samples(10);
  tt_note_bad_free(samples, samples, 10 * sizeof(sample));
  release_samples(samples);
  tt_survived();
  return 0;
}
