/* A thread that blocks every signal cannot be stopped, so its stack and registers are not
 * scanned: the block only it points to is reported as leaked, and the report says why in
 * a whole sentence. Once the block is freed the check at exit finds nothing, and then says
 * nothing about the thread either (unscanned roots can only hide pointers). */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 72 1 worker
// LEAK-EXPECT-STATUS: 0
// LEAK-EXPECT-REGEX: WARNING: tally: 1 thread\(s\) did not stop \(they block the stop signal, see
// the stop_signal option\) and their stacks and registers were not scanned: a block only they point
// to is reported as leaked\.
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "leak_test.h"

static atomic_int g_phase;
static uintptr_t g_hidden;

static void* worker(void* argument) {
  (void)argument;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  void* volatile kept = malloc(72);
  g_hidden = lt_hide(kept);
  atomic_store(&g_phase, 1);
  while (atomic_load(&g_phase) < 2) __asm__ volatile("pause" ::: "memory");
  return NULL;
}

int main(void) {
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  while (atomic_load(&g_phase) < 1) {
  }
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 72);
  free(lt_unhide(g_hidden));
  atomic_store(&g_phase, 2);
  pthread_join(thread, NULL);
  return lt_finish();
}
