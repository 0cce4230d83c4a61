/* A thread allocates, keeps the block only on its own stack and exits: once it is gone
 * the block is a direct leak, reported with the thread's allocation stack. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 128 1 worker_keeps_a_block
#include <pthread.h>

#include "leak_test.h"

static LT_NOINLINE void* worker_keeps_a_block(void* argument) {
  volatile char* block = malloc(128);
  block[0] = 1;
  (void)argument;
  return NULL;
}

int main(void) {
  pthread_t thread;
  pthread_create(&thread, NULL, worker_keeps_a_block, NULL);
  pthread_join(thread, NULL);
  lt_scrub_stack();
  return lt_finish();
}
