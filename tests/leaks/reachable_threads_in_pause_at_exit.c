/* Threads that wait in pause() with a block each on their stacks when main exits: the
 * blocks are reachable. The checks at exit stop the world with a signal, and pause() ends
 * when a handler returns, so a thread woken by the first stop returns and drops its
 * block's pointer: the canary check ran first and its stop woke them, and the leak check
 * after it reported every block (in safe mode with leaks=1 and in debug mode, where both
 * checks run). The leak check now stops the world first. */
// LEAK-MODES: safe debug
// LEAK-OPTIONS[mode=safe]: leaks=1
// LEAK-EXPECT: none
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "leak_test.h"

enum { kThreads = 4 };

static atomic_int g_waiting;

static LT_NOINLINE void* make_block(void) {
  return calloc(1, 100);
}

static void* wait_with_block(void* argument) {
  (void)argument;
  void* volatile block = make_block();
  atomic_fetch_add(&g_waiting, 1);
  pause();
  /* Woken before the program ends (tally's signal): the thread ends, and with its frame
   * goes the block's only pointer. */
  return block != NULL ? argument : NULL;
}

int main(void) {
  for (int i = 0; i < kThreads; ++i) {
    pthread_t thread;
    LT_EXPECT(pthread_create(&thread, NULL, wait_with_block, NULL) == 0);
  }
  while (atomic_load(&g_waiting) < kThreads) sched_yield();
  usleep(20000); /* into pause() */
  return lt_finish();
}
