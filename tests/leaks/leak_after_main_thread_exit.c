/* main ends with pthread_exit and the last worker returns, so the process exits from the
 * worker, with the main thread a zombie: listed in /proc/self/task and taking signals, but
 * never running a handler. The check at exit waited its full second for the zombie to
 * answer (two seconds in debug mode, which stops the world twice) and then warned of a
 * thread that blocks the stop signal. The worker's leak is reported, and nothing else. */
// LEAK-MODES: fast debug
// LEAK-OPTIONS[mode=fast]: leaks=1
// LEAK-EXPECT: direct 77 1 make_lost_block
// LEAK-EXPECT[mode=fast]: direct 80 1
// LEAK-EXPECT-NO-REGEX: did not stop
#include <pthread.h>
#include <unistd.h>

#include "leak_test.h"

static void* g_kept;

static LT_NOINLINE void* make_lost_block(void) {
  return malloc(77);
}

static void* worker(void* argument) {
  (void)argument;
  usleep(50000); /* main has ended by now */
  g_kept = malloc(100);
  void* volatile lost = make_lost_block();
  LT_EXPECT(lost != NULL);
  lost = NULL;
  lt_scrub_stack();
  lt_finish();
  return NULL; /* the last thread: the process exits here */
}

int main(void) {
  pthread_t thread;
  LT_EXPECT(pthread_create(&thread, NULL, worker, NULL) == 0);
  pthread_exit(NULL);
}
