/* A block that nothing points to at exit: one direct leak, with its allocation stack. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 40 1 make_order main
#include "leak_test.h"

static LT_NOINLINE char* make_order(size_t size) {
  char* order = malloc(size);
  memset(order, 'o', size);
  return order;
}

int main(void) {
  make_order(40); /* the result is dropped */
  lt_scrub_stack();
  return lt_finish();
}
