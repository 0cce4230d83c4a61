/* A coroutine (ucontext) runs on a stack the program took from malloc, and a block is kept
 * only on that stack while another thread checks for leaks, and while the coroutine
 * checks from its own stack. The stopped thread's stack pointer then lies inside one of
 * tally's blocks, in one of tally's mappings: the scan must cover that block from the stack
 * pointer up and stop at its end. It used to read on to the end of the mapping: in debug
 * mode the stack block is guarded and the mapping is the guard pool, so the mark crashed
 * on a guard page; in fast mode it read the blocks above, and a pointer left in a freed
 * one hid a leak. The leak (the block only that freed neighbour pointed to) is reported
 * by both checks, the kept block by neither. */
// LEAK-MODES: fast debug
// LEAK-EXPECT: direct 40 1 make_lost_block
// LEAK-EXPECT: direct 40 1 make_lost_block
// LEAK-EXPECT[mode=fast]: direct 48 1
// LEAK-EXPECT[mode=fast]: direct 48 1
// LEAK-EXPECT-STATUS: 0
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <ucontext.h>

#include "leak_test.h"

enum { kStackBytes = 64 << 10, kOwnCheckStackBytes = 1 << 20 };

static ucontext_t g_thread_context, g_coroutine_context;
static atomic_int g_step;
static uintptr_t g_hidden_kept, g_hidden_lost;
static size_t g_own_check;

static LT_NOINLINE void* make_kept_block(void) {
  return calloc(1, 100);
}

static LT_NOINLINE void* make_lost_block(void) {
  return calloc(1, 40);
}

/* Keeps a block on the coroutine's stack until the main thread has checked. */
static void parked_coroutine(void) {
  void* volatile kept = make_kept_block();
  g_hidden_kept = lt_hide(kept);
  atomic_store(&g_step, 1);
  while (atomic_load(&g_step) != 2) sched_yield();
  kept = NULL;
}

/* Checks from its own stack, with a block kept on it. */
static void checking_coroutine(void) {
  void* volatile kept = make_kept_block();
  g_own_check = lt_check_leaks();
  free(kept);
  kept = NULL;
}

static void run_on_own_stack(void (*body)(void), size_t stack_bytes) {
  /* Of two blocks of the stack's size, the lower is the stack and the one above it the
   * neighbour, which holds the only pointer to the lost block, then is freed: in fast
   * mode its bytes stay as they were. */
  char* first = malloc(stack_bytes);
  char* second = malloc(stack_bytes);
  char* stack = first < second ? first : second;
  void** neighbour = (void**)(first < second ? second : first);
  getcontext(&g_coroutine_context);
  g_coroutine_context.uc_stack.ss_sp = stack;
  g_coroutine_context.uc_stack.ss_size = stack_bytes;
  g_coroutine_context.uc_link = &g_thread_context;
  makecontext(&g_coroutine_context, body, 0);
  neighbour[0] = make_lost_block();
  g_hidden_lost = lt_hide(neighbour[0]);
  free(neighbour);
  neighbour = NULL;
  /* A thread stopped on another stack has its own scanned whole, dead frames included. */
  lt_scrub_stack();
  swapcontext(&g_thread_context, &g_coroutine_context);
  free(stack);
}

static void* thread_main(void* argument) {
  (void)argument;
  run_on_own_stack(parked_coroutine, kStackBytes);
  return NULL;
}

int main(void) {
  pthread_t thread;
  pthread_create(&thread, NULL, thread_main, NULL);
  while (atomic_load(&g_step) != 1) sched_yield();
  lt_scrub_stack();
  size_t leaked = lt_check_leaks();
  LT_EXPECT(leaked == 40 || leaked == 48); /* the lost block only; fast mode: its class */
  atomic_store(&g_step, 2);
  pthread_join(thread, NULL);
  free(lt_unhide(g_hidden_kept));
  free(lt_unhide(g_hidden_lost));

  run_on_own_stack(checking_coroutine, kOwnCheckStackBytes);
  LT_EXPECT(g_own_check == 40 || g_own_check == 48);
  free(lt_unhide(g_hidden_lost));
  return lt_finish();
}
