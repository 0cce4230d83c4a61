/* leak_exitcode=0 reports the leaks and keeps the program's own exit status, as
 * LeakSanitizer's exitcode=0 does: a shell script's `exit 3` must still exit 3. The
 * program exits from inside a call, as bash's exit builtin does, with a direct leak. */
// LEAK-MODES: debug safe
// LEAK-OPTIONS: leaks=1:leak_exitcode=0
// LEAK-EXPECT: direct 40 1 make_order main
// LEAK-EXPECT[mode=safe]: direct 40 1
// LEAK-EXPECT-STATUS: 3
#include "leak_test.h"

static LT_NOINLINE char* make_order(size_t size) {
  char* order = malloc(size);
  memset(order, 'o', size);
  return order;
}

static LT_NOINLINE void finish_with_status(int status) {
  printf("TALLY-LEAK-TEST: OK\n");
  fflush(stdout);
  exit(status);
}

int main(void) {
  make_order(40); /* the result is dropped */
  lt_scrub_stack();
  finish_with_status(3);
}
