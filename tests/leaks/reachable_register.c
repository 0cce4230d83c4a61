/* A block whose only pointer is in a register of another thread (r15, spinning in a loop),
 * as far as a test can force it: built with -O2 and an explicit register variable, so no
 * copy is on any stack. The stop saves the thread's registers, so it is no leak; once the
 * register is cleared, the check finds the block (allocated in worker: at -O2 make_block
 * calls calloc as a tail call). */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 136 1 worker
// LEAK-EXPECT-STATUS: 0
#include <pthread.h>
#include <stdatomic.h>

#include "leak_test.h"

static atomic_int g_phase;
static uintptr_t g_hidden;

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

static void* worker(void* argument) {
  (void)argument;
  register void* kept __asm__("r15") = make_block(136);
  __asm__ volatile("" : "+r"(kept));
  g_hidden = lt_hide(kept);
  atomic_store(&g_phase, 1);
  while (atomic_load(&g_phase) < 2) __asm__ volatile("pause" : "+r"(kept));
  kept = NULL;
  /* No other register may still hold a copy. */
  __asm__ volatile(
      "xor %%eax, %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n xor %%esi, %%esi\n"
      "xor %%edi, %%edi\n xor %%r8d, %%r8d\n xor %%r9d, %%r9d\n xor %%r10d, %%r10d\n"
      "xor %%r11d, %%r11d\n pxor %%xmm0, %%xmm0\n pxor %%xmm1, %%xmm1\n"
      "pxor %%xmm2, %%xmm2\n pxor %%xmm3, %%xmm3\n"
      : "+r"(kept)
      :
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3",
        "memory");
  atomic_store(&g_phase, 3);
  while (atomic_load(&g_phase) < 4) __asm__ volatile("pause" : "+r"(kept));
  return NULL;
}

int main(void) {
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  while (atomic_load(&g_phase) < 1) {
  }
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  atomic_store(&g_phase, 2);
  while (atomic_load(&g_phase) < 3) {
  }
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 136);
  free(lt_unhide(g_hidden));
  atomic_store(&g_phase, 4);
  pthread_join(thread, NULL);
  return lt_finish();
}
