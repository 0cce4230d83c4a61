/* A program that leaks and leaves its output in stdio's buffer (stdout is a pipe here, so
 * fully buffered) for exit() to flush: the leak check ends the process with _exit to give
 * it the leak status, and must flush that output first, or the program's last lines are
 * lost (the runner requires the OK line, printed here without any fflush). */
// LEAK-MODES: debug safe
// LEAK-OPTIONS[mode=safe]: leaks=1
// LEAK-EXPECT: direct 48 1 make_record
// LEAK-EXPECT[mode=safe]: direct 48 1
#include "leak_test.h"

static LT_NOINLINE char* make_record(size_t size) {
  char* record = malloc(size);
  memset(record, 'r', size);
  return record;
}

int main(void) {
  make_record(48); /* the result is dropped */
  lt_scrub_stack();
  for (int line = 0; line < 10; ++line) printf("result line %d\n", line);
  printf("TALLY-LEAK-TEST: OK\n");
  return 0;
}
