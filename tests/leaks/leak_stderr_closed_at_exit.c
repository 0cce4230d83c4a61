/* A program that closes stderr in an exit handler, as every program built with gnulib's
   close_stdout does (tar, sort, the coreutils): the leak report at exit must still reach
   the stderr the program started with. */
// LEAK-MODES: debug
// LEAK-REPORT-TO: stderr
// LEAK-EXPECT: direct 72 1 make_record main
#include <unistd.h>

#include "leak_test.h"

static void close_stderr_at_exit(void) {
  close(STDERR_FILENO);
}

static LT_NOINLINE char* make_record(size_t size) {
  char* record = malloc(size);
  memset(record, 'r', size);
  return record;
}

int main(void) {
  atexit(close_stderr_at_exit);
  make_record(72); /* the result is dropped */
  lt_scrub_stack();
  return lt_finish();
}
