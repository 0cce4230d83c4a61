// Heap buffer underflow, read, index -1: a ring of 32 timestamps reads "the previous
// entry" at head - 1 without wrapping when head is 0, 8 bytes before the block. Runs in
// debug mode with guard_side=left, so the block starts right after its guard page.
// TALLY-OPTIONS: mode=debug:guard_side=left
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 8 bytes to the left of 256-byte region
// TALLY-EXPECT-ACCESS-FRAME: previous_timestamp
// TALLY-EXPECT-ALLOC-FRAME: new_ring
#include "tally_test.h"

#define RING_ENTRIES 32

struct ring {
  long* stamps;
  int head;
};

static TT_NOINLINE void new_ring(struct ring* ring) {
  ring->stamps = (long*)calloc(RING_ENTRIES, sizeof(long));
  TT_CHECK(ring->stamps != NULL);
  ring->head = 0;
}

static TT_NOINLINE long previous_timestamp(const struct ring* ring) {
  int previous = ring->head - 1; /* should wrap to RING_ENTRIES - 1 */
  tt_note_bad_access(&ring->stamps[previous], sizeof(long), ring->stamps,
                     RING_ENTRIES * sizeof(long));
  long stamp = ring->stamps[previous];
  tt_after_bad_access();
  return stamp;
}

int main(void) {
  struct ring ring;
  new_ring(&ring);
  tt_consume((unsigned long)previous_timestamp(&ring));
  free(ring.stamps);
  return 0;
}
