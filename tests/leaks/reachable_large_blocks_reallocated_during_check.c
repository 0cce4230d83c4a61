/* Threads grow large tables with realloc without pause while the leak check runs, on
 * demand and at exit; each table holds the only pointers to blocks of its own. A realloc
 * past a large block's reservation moves its pages, and debug mode moves them on every
 * realloc: a check that stopped a thread in the middle found the block in neither place
 * (the descriptor still named the old range), or, in debug mode, out of the live state for
 * the whole move and then known only to its descriptor until realloc returned. It reported
 * the tables and all they held as leaked. Moves now hold a lock the check takes first, and
 * the moved block's address stays in the moving thread's registers. Nothing leaks here. */
// LEAK-MODES: fast safe debug
// LEAK-OPTIONS: leaks=1
// LEAK-EXPECT: none
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "leak_test.h"

enum { kThreads = 3, kChecks = 20, kKept = 16 };

static atomic_int g_started;

static void* grow_tables(void* argument) {
  (void)argument;
  size_t size = (size_t)300 << 10;
  void** table = calloc(1, size);
  LT_EXPECT(table != NULL);
  for (int i = 0; i < kKept; ++i) table[i] = malloc(100);
  atomic_fetch_add(&g_started, 1);
  for (unsigned round = 0;; ++round) {
    /* Grows past its reservation every few rounds (4 MiB), then starts small again. */
    size = round % 12 == 0 ? (size_t)300 << 10 : size + ((size_t)700 << 10);
    void** grown = realloc(table, size);
    LT_EXPECT(grown != NULL);
    table = grown;
  }
  return NULL;
}

int main(void) {
  for (int i = 0; i < kThreads; ++i) {
    pthread_t thread;
    LT_EXPECT(pthread_create(&thread, NULL, grow_tables, NULL) == 0);
  }
  while (atomic_load(&g_started) < kThreads) sched_yield();
  for (int i = 0; i < kChecks; ++i) LT_EXPECT(lt_check_leaks() == 0);
  return lt_finish(); /* the threads are still growing their tables at exit */
}
