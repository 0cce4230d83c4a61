/* Blocks kept only in static TLS: the main thread's __thread variable, and a live thread's
 * (blocked while the check runs). Neither is a leak; once each variable is cleared, the
 * check finds its block. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 48 1 make_block
// LEAK-EXPECT: direct 80 1 make_block
// LEAK-EXPECT-STATUS: 0
#include <pthread.h>

#include "leak_test.h"

static __thread void* t_slot;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_changed = PTHREAD_COND_INITIALIZER;
static int g_step;
static uintptr_t g_hidden_thread_block;

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

static void wait_for_step(int step) {
  pthread_mutex_lock(&g_lock);
  while (g_step < step) pthread_cond_wait(&g_changed, &g_lock);
  pthread_mutex_unlock(&g_lock);
}

static void set_step(int step) {
  pthread_mutex_lock(&g_lock);
  g_step = step;
  pthread_cond_broadcast(&g_changed);
  pthread_mutex_unlock(&g_lock);
}

static void* worker(void* argument) {
  (void)argument;
  t_slot = make_block(80);
  g_hidden_thread_block = lt_hide(t_slot);
  lt_scrub_stack();
  set_step(1);
  wait_for_step(2); /* main checks: the block lives in this thread's TLS */
  t_slot = NULL;
  lt_scrub_stack();
  set_step(3);
  wait_for_step(4); /* main checks again: now it is leaked */
  return NULL;
}

int main(void) {
  t_slot = make_block(48);
  uintptr_t hidden = lt_hide(t_slot);
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  wait_for_step(1);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  t_slot = NULL;
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 48);
  free(lt_unhide(hidden));
  set_step(2);
  wait_for_step(3);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 80);
  free(lt_unhide(g_hidden_thread_block));
  set_step(4);
  pthread_join(thread, NULL);
  return lt_finish();
}
