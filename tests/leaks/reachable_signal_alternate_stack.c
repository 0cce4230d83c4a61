/* A thread runs a signal handler on an alternate stack the program took from malloc, and
 * the handler keeps a block only on that stack while main exits. The stopped thread's stack
 * pointer lies in one of tally's blocks (in debug mode a guarded one): every check at exit
 * must read that stack up to the block's end and no further. The canary check's look at
 * the top of each stack (is the thread inside tally?) read on into the guard page and
 * crashed; the block is reachable, so no report. */
// LEAK-MODES: fast safe debug
// LEAK-OPTIONS[mode=fast]: leaks=1
// LEAK-OPTIONS[mode=safe]: leaks=1
// LEAK-EXPECT: none
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "leak_test.h"

enum { kAlternateStackBytes = 64 << 10 };

static atomic_int g_in_handler;

static LT_NOINLINE void* make_block(void) {
  return calloc(1, 90);
}

static void handler(int signal_number) {
  (void)signal_number;
  void* volatile block = make_block();
  atomic_store(&g_in_handler, 1);
  for (;;) {
    struct timespec pause = {0, 10000000};
    nanosleep(&pause, NULL);
    if (block == NULL) break; /* never: keeps the pointer on this stack */
  }
}

static void* thread_main(void* argument) {
  stack_t alternate;
  memset(&alternate, 0, sizeof alternate);
  alternate.ss_sp = malloc(kAlternateStackBytes);
  alternate.ss_size = kAlternateStackBytes;
  LT_EXPECT(sigaltstack(&alternate, NULL) == 0);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  action.sa_flags = SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  LT_EXPECT(sigaction(SIGUSR1, &action, NULL) == 0);
  raise(SIGUSR1);
  return argument;
}

int main(void) {
  pthread_t thread;
  LT_EXPECT(pthread_create(&thread, NULL, thread_main, NULL) == 0);
  while (atomic_load(&g_in_handler) == 0) sched_yield();
  lt_scrub_stack();
  return lt_finish();
}
