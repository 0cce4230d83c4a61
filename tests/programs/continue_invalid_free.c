// halt_on_error=0: freeing an interior pointer is reported and ignored. The live block
// must be untouched (contents intact, still owned by the program), must not be handed out
// again while live, and its later legitimate free must not be reported.
// TALLY-OPTIONS: halt_on_error=0
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 8 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: release_view
#include "tally_test.h"

#define BLOCK_BYTES 32
#define OTHERS 2000

static TT_NOINLINE void release_view(unsigned char* view) {
  free(view);
}

int main(void) {
  unsigned char* block = (unsigned char*)malloc(BLOCK_BYTES);
  TT_CHECK(block != NULL);
  tt_fill(block, BLOCK_BYTES, 99);
  tt_note_bad_free(block + 8, block, BLOCK_BYTES);
  release_view(block + 8);
  tt_survived();
  TT_CHECK(tt_verify(block, BLOCK_BYTES, 99));

  static void* others[OTHERS];
  for (unsigned i = 0; i < OTHERS; ++i) {
    others[i] = malloc(BLOCK_BYTES - 8 * (i % 3));
    TT_CHECK(others[i] != NULL);
    uintptr_t other = (uintptr_t)others[i];
    if (other + BLOCK_BYTES > (uintptr_t)block && other < (uintptr_t)block + BLOCK_BYTES) {
      TT_FAIL("live block %p handed out again as %p", (void*)block, others[i]);
    }
  }
  TT_CHECK(tt_verify(block, BLOCK_BYTES, 99));
  for (unsigned i = 0; i < OTHERS; ++i) free(others[i]);
  free(block); /* the real free: fine, no second report */
  return 0;
}
