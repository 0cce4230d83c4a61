/* A worker that blocks every signal (as many thread pools do) and waits in a system call
 * (read on a pipe) holding a block only on its stack: it cannot be stopped, but while it
 * waits its stack is still, and the check scans it from the stack pointer the kernel shows
 * for it, so the block is no leak. Once the worker has dropped it, the check finds it, so
 * the first check could have failed. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 88 1 worker
// LEAK-EXPECT-STATUS: 0
// LEAK-EXPECT-REGEX: 1 thread\(s\) did not stop \(they block the stop signal\); their stacks were
// scanned where they wait in a system call
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "leak_test.h"

static int g_wake[2];
static int g_done[2];
static uintptr_t g_hidden;

static LT_NOINLINE void wait_for(int fd) {
  char byte;
  while (read(fd, &byte, 1) != 1) {
  }
}

static void* worker(void* argument) {
  (void)argument;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  void* volatile kept = malloc(88);
  g_hidden = lt_hide(kept);
  if (write(g_done[1], "r", 1) != 1) return NULL;
  wait_for(g_wake[0]); /* the first check runs while the worker waits here */
  kept = NULL;
  lt_scrub_stack();
  if (write(g_done[1], "d", 1) != 1) return NULL;
  wait_for(g_wake[0]); /* and the second here, the block dropped */
  return NULL;
}

int main(void) {
  LT_EXPECT(pipe(g_wake) == 0 && pipe(g_done) == 0);
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  wait_for(g_done[0]);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  LT_EXPECT(write(g_wake[1], "1", 1) == 1);
  wait_for(g_done[0]);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 88);
  free(lt_unhide(g_hidden));
  LT_EXPECT(write(g_wake[1], "2", 1) == 1);
  pthread_join(thread, NULL);
  return lt_finish();
}
