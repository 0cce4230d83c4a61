// halt_on_error=0: freeing a stack buffer is reported and ignored, and the allocator must
// not adopt the stack memory: nothing allocated afterwards may land inside it, and the
// buffer's contents stay as they were.
// TALLY-OPTIONS: halt_on_error=0
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: discard_scratch
#include <string.h>

#include "tally_test.h"

#define SCRATCH_BYTES 256
#define ALLOCATIONS 3000

static TT_NOINLINE void discard_scratch(char* scratch) {
  free(scratch);
}

static TT_NOINLINE void run(void) {
  char scratch[SCRATCH_BYTES];
  tt_fill(scratch, SCRATCH_BYTES, 5);
  tt_note_bad_free(scratch, NULL, 0);
  discard_scratch(scratch);
  tt_survived();
  static void* blocks[ALLOCATIONS];
  for (unsigned i = 0; i < ALLOCATIONS; ++i) {
    size_t size = 1 + (i * 37u) % 300;
    blocks[i] = malloc(size);
    TT_CHECK(blocks[i] != NULL);
    uintptr_t at = (uintptr_t)blocks[i];
    if (at + size > (uintptr_t)scratch && at < (uintptr_t)scratch + SCRATCH_BYTES) {
      TT_FAIL("malloc returned %p, inside the freed stack buffer %p", blocks[i], (void*)scratch);
    }
    memset(blocks[i], 0, size);
  }
  TT_CHECK(tt_verify(scratch, SCRATCH_BYTES, 5));
  for (unsigned i = 0; i < ALLOCATIONS; ++i) free(blocks[i]);
}

int main(void) {
  run();
  return 0;
}
