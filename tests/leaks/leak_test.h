/* Helpers of the leak programs (tests/leaks). The programs run under LD_PRELOAD=libtally.so
 * and reach tally's API through the dynamic loader, so they need no link against it. */
#ifndef LEAK_TEST_H
#define LEAK_TEST_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally.h" /* the statistics' layout; the functions come through dlsym */

#define LT_NOINLINE __attribute__((noinline))

static int lt_failures __attribute__((unused)) = 0;

#define LT_EXPECT(condition)                                                        \
  do {                                                                              \
    if (!(condition)) {                                                             \
      printf("TALLY-LEAK-TEST: FAIL: %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      fflush(stdout);                                                               \
      ++lt_failures;                                                                \
    }                                                                               \
  } while (0)

static inline void* lt_symbol(const char* name) {
  void* symbol = dlsym(RTLD_DEFAULT, name);
  if (!symbol) {
    printf("TALLY-LEAK-TEST: FAIL: %s not found (is libtally.so preloaded?)\n", name);
    fflush(stdout);
    exit(2);
  }
  return symbol;
}

static inline size_t lt_check_leaks(void) {
  return ((size_t(*)(void))lt_symbol("tally_check_leaks"))();
}
/* Errors tally has reported so far (leak reports included). */
static inline size_t lt_errors_reported(void) {
  struct tally_stats stats;
  ((void (*)(struct tally_stats*))lt_symbol("tally_get_stats"))(&stats);
  return stats.bad_frees;
}
static inline void lt_add_root(const void* start, size_t length) {
  ((void (*)(const void*, size_t))lt_symbol("tally_add_root"))(start, length);
}
static inline void lt_remove_root(const void* start) {
  ((void (*)(const void*))lt_symbol("tally_remove_root"))(start);
}
static inline void lt_ignore_leak(const void* block) {
  ((void (*)(const void*))lt_symbol("tally_ignore_leak"))(block);
}
static inline void* lt_malloc_atomic(size_t size) {
  return ((void* (*)(size_t))lt_symbol("tally_malloc_atomic"))(size);
}

/* A pointer kept where no marker sees it (not a canonical address), so a program can free
 * a block it made unreachable on purpose. */
static inline uintptr_t lt_hide(const void* pointer) {
  return (uintptr_t)pointer ^ (uintptr_t)0xA5A5A5A5A5A5A5A5ull;
}
static inline void* lt_unhide(uintptr_t hidden) {
  return (void*)(hidden ^ (uintptr_t)0xA5A5A5A5A5A5A5A5ull);
}

/* Overwrites the stack below the caller, where dead frames may still hold copies of
 * pointers that a conservative scan would take for live ones, and the vector registers:
 * the marker scans a stopped thread's xmm registers too, and code that moves a pointer
 * with its neighbour in one 16-byte load (tally's own allocation paths among it) leaves
 * the pointer there until something else needs the register, which in a thread that only
 * waits may be never. (The C library's memset does not clear them: its EVEX variants work
 * in xmm16 and up.) */
static LT_NOINLINE __attribute__((unused)) void lt_scrub_stack(void) {
  volatile char scratch[32768];
  memset((char*)scratch, 0, sizeof scratch);
  __asm__ volatile("" : : "r"(scratch) : "memory");
#if defined(__x86_64__)
  __asm__ volatile(
      "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
      "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
      "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
      "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
      "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
      "pxor %%xmm15, %%xmm15"
      :
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#endif
}

static inline int lt_finish(void) {
  if (lt_failures == 0) printf("TALLY-LEAK-TEST: OK\n");
  fflush(stdout);
  return lt_failures ? 3 : 0;
}

#endif
