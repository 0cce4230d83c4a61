/* Leak checks while other threads allocate and free as fast as they can, blocks of sizes
 * that change with every reuse (in debug mode most of them guarded, so guard slots are
 * reused with a new size all the time). Every block is reachable from a global table or
 * in flight in a register or on a stack, so no check may report a leak, and none may
 * crash: a thread stopped at any instruction of malloc or free leaves tally's books in a
 * state the marker must read safely. */
// LEAK-MODES: fast safe debug
// LEAK-EXPECT: none
#include <pthread.h>
#include <stdatomic.h>

#include "leak_test.h"

#define THREADS 2
#define SLOTS 64
#define CHECKS 150

static void* g_table[THREADS][SLOTS];
static atomic_int g_stop;
static atomic_int g_running;

static void* churn(void* argument) {
  uintptr_t self = (uintptr_t)argument;
  unsigned seed = (unsigned)self * 7919u + 1u;
  atomic_fetch_add(&g_running, 1);
  while (!atomic_load(&g_stop)) {
    seed = seed * 1103515245u + 12345u;
    unsigned slot = (seed >> 8) % SLOTS;
    size_t size = 1 + (seed >> 12) % 20000;
    free(g_table[self][slot]);
    g_table[self][slot] = NULL;
    char* block = malloc(size);
    if (!block) continue;
    block[0] = block[size - 1] = 1;
    g_table[self][slot] = block;
  }
  for (int i = 0; i < SLOTS; ++i) {
    free(g_table[self][i]);
    g_table[self][i] = NULL;
  }
  return NULL;
}

int main(void) {
  pthread_t threads[THREADS];
  for (uintptr_t i = 0; i < THREADS; ++i) pthread_create(&threads[i], NULL, churn, (void*)i);
  while (atomic_load(&g_running) < THREADS) {
  }
  int reported = 0;
  for (int i = 0; i < CHECKS; ++i) {
    size_t leaked = lt_check_leaks();
    if (leaked != 0 && reported++ < 3) LT_EXPECT(leaked == 0);
  }
  atomic_store(&g_stop, 1);
  for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
  return lt_finish();
}
