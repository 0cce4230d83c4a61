/* Values that exited threads returned (one with return, one with pthread_exit) and nobody has
 * joined yet: the thread's descriptor, which glibc keeps until pthread_join, holds the only
 * pointer to each, so they are not leaks. Once joined, and the values dropped, they are. */
// LEAK-MODES: fast debug
// LEAK-EXPECT: direct 88 1 make_block
// LEAK-EXPECT: direct 72 1 make_block
// LEAK-EXPECT[mode=fast]: direct 96 1
// LEAK-EXPECT[mode=fast]: direct 80 1
// LEAK-EXPECT-STATUS: 0
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "leak_test.h"

static atomic_int g_tids[2];

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

static void* returns_block(void* argument) {
  (void)argument;
  atomic_store(&g_tids[0], (int)syscall(SYS_gettid));
  return make_block(72);
}

static void* exits_with_block(void* argument) {
  (void)argument;
  atomic_store(&g_tids[1], (int)syscall(SYS_gettid));
  pthread_exit(make_block(88));
}

/* Until the kernel no longer knows the thread: it has exited, its value is stored. */
static void wait_until_gone(int index) {
  while (atomic_load(&g_tids[index]) == 0) sched_yield();
  while (syscall(SYS_tgkill, getpid(), atomic_load(&g_tids[index]), 0) == 0 || errno != ESRCH) {
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
}

int main(void) {
  pthread_t first, second;
  pthread_create(&first, NULL, returns_block, NULL);
  pthread_create(&second, NULL, exits_with_block, NULL);
  wait_until_gone(0);
  wait_until_gone(1);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);

  void* value = NULL;
  pthread_join(first, &value);
  uintptr_t first_value = lt_hide(value);
  pthread_join(second, &value);
  uintptr_t second_value = lt_hide(value);
  value = NULL;
  lt_scrub_stack();
  size_t leaked = lt_check_leaks(); /* requested sizes; fast mode counts its block sizes */
  LT_EXPECT(leaked == 160 || leaked == 176);
  free(lt_unhide(first_value));
  free(lt_unhide(second_value));
  return lt_finish();
}
