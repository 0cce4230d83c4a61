/* A block kept only on another thread's stack (the thread is blocked in a condition wait
 * while the check stops it): no leak. When the thread clears its local, the check finds
 * the block. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 112 1 make_block
// LEAK-EXPECT-STATUS: 0
#include <pthread.h>

#include "leak_test.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_changed = PTHREAD_COND_INITIALIZER;
static int g_step;
static uintptr_t g_hidden;

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

static LT_NOINLINE void hold_on_stack(void) {
  void* volatile local = make_block(112);
  g_hidden = lt_hide(local);
  set_step(1);
  wait_for_step(2);
  local = NULL;
}

static void* worker(void* argument) {
  (void)argument;
  hold_on_stack();
  lt_scrub_stack();
  set_step(3);
  wait_for_step(4);
  return NULL;
}

int main(void) {
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  wait_for_step(1);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  set_step(2);
  wait_for_step(3);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 112);
  free(lt_unhide(g_hidden));
  set_step(4);
  pthread_join(thread, NULL);
  return lt_finish();
}
