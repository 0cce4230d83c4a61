/* main ends with pthread_exit, and a worker calls exit() later while another blocks: the
 * blocks each thread holds only on its stack are reachable. The main thread's /proc/self
 * no longer shows the process's mappings then, so the check must find the stacks through
 * the calling thread's view (it reported both blocks as leaked, and warned of a thread
 * that did not stop: the dead main thread). */
// LEAK-MODES: debug safe
// LEAK-OPTIONS: leaks=1
// LEAK-EXPECT: none
// LEAK-EXPECT-NO-REGEX: did not stop
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "leak_test.h"

static atomic_int g_holding;

static void* holder(void* argument) {
  (void)argument;
  char* volatile kept = malloc(50);
  strcpy(kept, "held by a sleeping thread");
  atomic_fetch_add(&g_holding, 1);
  for (;;) sleep(100);
  return kept;
}

static void* exiter(void* argument) {
  (void)argument;
  char* volatile mine = malloc(60);
  strcpy(mine, "held by the thread that exits");
  while (atomic_load(&g_holding) < 1) usleep(1000);
  usleep(100000); /* main has ended by now */
  exit(lt_finish());
  return mine;
}

int main(void) {
  pthread_t hold, exit_thread;
  pthread_create(&hold, NULL, holder, NULL);
  pthread_create(&exit_thread, NULL, exiter, NULL);
  pthread_exit(NULL);
}
