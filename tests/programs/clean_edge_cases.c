// Clean: the corner cases of the C API that are valid and must not be reported:
// free(NULL), realloc(NULL, n), realloc(p, 0), malloc(0) / calloc(0, n) blocks freed,
// impossible sizes failing with NULL, and reallocarray.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#define _GNU_SOURCE
/* The impossible sizes below are deliberate: keep gcc's compile-time size check quiet. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#endif
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void free_null_many_times(void) {
  for (int i = 0; i < 1000; ++i) free(NULL);
}

static TT_NOINLINE void realloc_null_is_malloc(void) {
  char* block = (char*)realloc(NULL, 40);
  TT_CHECK(block != NULL);
  memset(block, 'n', 40);
  free(block);
}

static TT_NOINLINE void realloc_to_zero(void) {
  for (int i = 0; i < 100; ++i) {
    char* block = (char*)malloc(64 + (size_t)i);
    TT_CHECK(block != NULL);
    memset(block, 'z', 64);
    /* glibc frees and returns NULL; an allocator may also return a minimal block. Either
     * way the old pointer is gone and a non-NULL result is freed exactly once. */
    char* result = (char*)realloc(block, 0);
    free(result);
  }
}

static TT_NOINLINE void zero_size_blocks(void) {
  void* blocks[64];
  for (int i = 0; i < 64; ++i) {
    blocks[i] = (i % 2) ? malloc(0) : calloc(0, 16);
    TT_CHECK(blocks[i] != NULL);
    for (int j = 0; j < i; ++j) TT_CHECK(blocks[j] != blocks[i]); /* all distinct */
  }
  for (int i = 0; i < 64; ++i) free(blocks[i]);
}

static TT_NOINLINE void impossible_sizes(void) {
  errno = 0;
  void* huge = malloc(SIZE_MAX - 4096);
  TT_CHECK(huge == NULL);
  TT_CHECK(errno == ENOMEM);
  errno = 0;
  void* overflow = calloc(SIZE_MAX / 2, 4);
  TT_CHECK(overflow == NULL);
  TT_CHECK(errno == ENOMEM);
  char* keep = (char*)malloc(32);
  TT_CHECK(keep != NULL);
  strcpy(keep, "still here");
  void* failed = realloc(keep, SIZE_MAX - 4096);
  TT_CHECK(failed == NULL); /* the original block stays valid */
  TT_CHECK(strcmp(keep, "still here") == 0);
  free(keep);
  free(NULL);
}

static TT_NOINLINE void array_reallocation(void) {
  int* values = (int*)reallocarray(NULL, 10, sizeof(int));
  TT_CHECK(values != NULL);
  for (int i = 0; i < 10; ++i) values[i] = i;
  values = (int*)reallocarray(values, 1000, sizeof(int));
  TT_CHECK(values != NULL);
  for (int i = 0; i < 10; ++i) TT_CHECK(values[i] == i);
  TT_CHECK(reallocarray(values, SIZE_MAX / 2, 4) == NULL); /* overflow: values untouched */
  free(values);
}

int main(void) {
  free_null_many_times();
  realloc_null_is_malloc();
  realloc_to_zero();
  zero_size_blocks();
  impossible_sizes();
  array_reallocation();
  return 0;
}
