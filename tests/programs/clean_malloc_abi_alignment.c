// Clean: what compilers assume of malloc on x86-64. A block of 16 bytes or more is aligned
// to 16 (the C standard: aligned for any object that fits), so a 16-byte-aligned type may
// sit at its start and be stored with an aligned vector store (movaps), as gcc does for
// python's ctypes objects; a smaller block is aligned to the largest power of two not above
// its size. Every size from 1 to 600 bytes, from malloc, calloc and realloc, many times
// over, so that debug mode's guarded blocks (aligned to the least the size allows, to end at
// their guard page) are among them.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <emmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally_test.h"

static size_t required_alignment(size_t size) {
  size_t alignment = 1;
  while (alignment * 2 <= size && alignment < 16) alignment *= 2;
  return alignment;
}

static TT_NOINLINE int check(void* block, size_t size, const char* how) {
  if (!block) {
    fprintf(stderr, "%s(%zu) returned NULL\n", how, size);
    return 0;
  }
  if ((uintptr_t)block % required_alignment(size) != 0) {
    fprintf(stderr, "%s(%zu) = %p is not aligned to %zu\n", how, size, block,
            required_alignment(size));
    return 0;
  }
  // An aligned 16-byte store, as a compiler emits for a 16-byte-aligned member: it faults
  // (general protection) on an address that is not a multiple of 16.
  if (size >= 16) _mm_store_si128((__m128i*)block, _mm_set1_epi8((char)size));
  return 1;
}

int main(void) {
  for (int round = 0; round < 20; ++round) {
    for (size_t size = 1; size <= 600; ++size) {
      void* block = malloc(size);
      if (!check(block, size, "malloc")) return 1;
      void* zeroed = calloc(1, size);
      if (!check(zeroed, size, "calloc")) return 1;
      void* moved = realloc(block, size + 24);
      if (!check(moved, size + 24, "realloc")) return 1;
      free(moved);
      free(zeroed);
    }
  }
  printf("every block was aligned as the standard asks\n");
  return 0;
}
