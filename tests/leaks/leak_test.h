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
 * pointers that a conservative scan would take for live ones. */
static LT_NOINLINE __attribute__((unused)) void lt_scrub_stack(void) {
  volatile char scratch[32768];
  memset((char*)scratch, 0, sizeof scratch);
  __asm__ volatile("" : : "r"(scratch) : "memory");
}

static inline int lt_finish(void) {
  if (lt_failures == 0) printf("TALLY-LEAK-TEST: OK\n");
  fflush(stdout);
  return lt_failures ? 3 : 0;
}

#endif
