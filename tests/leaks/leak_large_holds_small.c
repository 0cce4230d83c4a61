/* A large block (a mapping of its own) that holds the only pointer to a small block: the
 * large one is the direct leak, the small one indirect, so large blocks are scanned too. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 1048576 1 make_big
// LEAK-EXPECT: indirect 64 1 make_small
#include "leak_test.h"

static LT_NOINLINE void* make_small(void) {
  return calloc(1, 64);
}

static LT_NOINLINE void make_big(void) {
  void** big = malloc(1u << 20);
  memset(big, 0, 1u << 20);
  big[70000] = make_small(); /* deep inside the block */
}

int main(void) {
  make_big();
  lt_scrub_stack();
  return lt_finish();
}
