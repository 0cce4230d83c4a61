/* tally_check_leaks() in the middle of a run: it reports the leak it finds and returns its
 * bytes, an error in the statistics; once the program frees the block, a second check finds
 * nothing, counts no error, and the exit is clean. */
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
  LT_EXPECT(lt_errors_reported() == 0);
  make_order();
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 40);
  LT_EXPECT(lt_errors_reported() == 1);
  free(lt_unhide(g_hidden));
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  LT_EXPECT(lt_errors_reported() == 1);
  return lt_finish();
}
