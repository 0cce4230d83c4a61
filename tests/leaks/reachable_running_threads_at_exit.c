/* The program exits while other threads still run, each holding a block only on its
 * stack: the check at exit stops them and scans their stacks, so nothing is reported. */
// LEAK-MODES: debug
// LEAK-EXPECT: none
#include <pthread.h>
#include <stdatomic.h>

#include "leak_test.h"

static atomic_int g_started;

static void* spinner(void* argument) {
  void* volatile mine = malloc(256 + (size_t)(uintptr_t)argument);
  atomic_fetch_add(&g_started, 1);
  for (;;) {
    __asm__ volatile("pause" ::: "memory");
    if (!mine) break;
  }
  return NULL;
}

int main(void) {
  pthread_t threads[4];
  for (uintptr_t i = 0; i < 4; ++i) pthread_create(&threads[i], NULL, spinner, (void*)i);
  while (atomic_load(&g_started) < 4) {
  }
  return lt_finish(); /* exit with the threads running */
}
