// Double free of a block from C11 aligned_alloc.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: free_vector_lane
#include <string.h>

#include "tally_test.h"

#define LANE_ALIGNMENT 256
#define LANE_BYTES 512

static TT_NOINLINE void free_vector_lane(float* lane) {
  free(lane);
}

int main(void) {
  float* lane = (float*)aligned_alloc(LANE_ALIGNMENT, LANE_BYTES);
  TT_CHECK(lane != NULL);
  TT_CHECK((uintptr_t)lane % LANE_ALIGNMENT == 0);
  for (size_t i = 0; i < LANE_BYTES / sizeof(float); ++i) lane[i] = (float)i;
  free_vector_lane(lane);
  tt_note_bad_free(lane, lane, LANE_BYTES);
  free_vector_lane(lane);
  tt_survived();
  return 0;
}
