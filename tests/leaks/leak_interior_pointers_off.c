/* With interior_pointers=0, a pointer into the middle of a block found inside another
 * block does not keep it alive (the block it points into is leaked), while a root (a
 * global) may still point inside a block. */
// LEAK-MODES: debug
// LEAK-OPTIONS: interior_pointers=0
// LEAK-EXPECT: direct 48 1 make_target
#include "leak_test.h"

struct holder {
  char* inside; /* points 8 bytes into its target */
};

struct holder* g_holder;
char* g_root_inside; /* 16 bytes into a block: roots count anywhere */

static LT_NOINLINE char* make_target(void) {
  return calloc(1, 48);
}

static LT_NOINLINE char* make_root_target(void) {
  return calloc(1, 56);
}

static LT_NOINLINE void setup(void) {
  g_holder = malloc(sizeof *g_holder);
  g_holder->inside = make_target() + 8;
  g_root_inside = make_root_target() + 16;
}

int main(void) {
  setup();
  lt_scrub_stack();
  return lt_finish();
}
