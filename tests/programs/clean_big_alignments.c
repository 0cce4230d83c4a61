// Clean: posix_memalign, aligned_alloc and memalign with every power-of-two alignment
// from 16 bytes to 2 MiB, with sizes around the alignment; every byte written and read,
// then freed. Alignments above a page cannot sit flush against a guard page: debug mode
// must serve them anyway.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 120
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void check_block(void* block, size_t alignment, size_t size, unsigned seed) {
  TT_CHECK(block != NULL);
  TT_CHECK((uintptr_t)block % alignment == 0);
  tt_fill(block, size, seed);
  TT_CHECK(tt_verify(block, size, seed));
}

int main(void) {
  unsigned seed = 0;
  for (size_t alignment = 16; alignment <= 2u * 1024 * 1024; alignment *= 2) {
    const size_t sizes[] = {1, alignment / 2 + 1, alignment, alignment + 1, 3 * alignment - 5};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
      size_t size = sizes[i];
      void* first = NULL;
      TT_CHECK(posix_memalign(&first, alignment, size) == 0);
      check_block(first, alignment, size, ++seed);
      void* second = aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
      check_block(second, alignment, size, ++seed);
      void* third = memalign(alignment, size);
      check_block(third, alignment, size, ++seed);
      TT_CHECK(tt_verify(first, size, seed - 2));
      free(second);
      free(first);
      free(third);
    }
  }
  /* Many live at once, freed in another order. */
  void* blocks[64];
  for (int i = 0; i < 64; ++i) {
    size_t alignment = (size_t)1 << (4 + i % 14);
    TT_CHECK(posix_memalign(&blocks[i], alignment, 100 + (size_t)i) == 0);
    check_block(blocks[i], alignment, 100 + (size_t)i, (unsigned)i);
  }
  for (int i = 63; i >= 0; i -= 2) free(blocks[i]);
  for (int i = 0; i < 64; i += 2) free(blocks[i]);
  return 0;
}
