/* tally_check_leaks() in the middle of a run: it reports the leak it finds and returns its
 * bytes; once the program frees the block, a second check finds nothing and the exit is
 * clean. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 40 1 make_order
// LEAK-EXPECT-STATUS: 0
#include "leak_test.h"

static uintptr_t g_hidden;

static LT_NOINLINE void make_order(void) {
  char* order = malloc(40);
  memset(order, 'o', 40);
  g_hidden = lt_hide(order);
}

int main(void) {
  make_order();
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 40);
  free(lt_unhide(g_hidden));
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  return lt_finish();
}
