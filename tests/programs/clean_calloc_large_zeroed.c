// Clean: calloc of large blocks returns zeroed memory, also when the memory was just
// freed dirty (filled with non-zero bytes) by a block of the same size: a quarantine
// that poisons freed blocks, or a cache of large mappings, must never leak poison or old
// data into a calloc. Sizes from 1 MiB to 64 MiB; every byte checked.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 180
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void check_zeroed(const unsigned char* block, size_t size) {
  const unsigned long* words = (const unsigned long*)block;
  for (size_t i = 0; i < size / sizeof(unsigned long); ++i)
    if (words[i] != 0) TT_FAIL("calloc'ed block %p not zero at byte %zu", (void*)block, i * 8);
  for (size_t i = size / sizeof(unsigned long) * sizeof(unsigned long); i < size; ++i)
    TT_CHECK(block[i] == 0);
}

static TT_NOINLINE void dirty_then_calloc(size_t size) {
  for (int round = 0; round < 3; ++round) {
    unsigned char* dirty = (unsigned char*)malloc(size);
    TT_CHECK(dirty != NULL);
    memset(dirty, 0xa5, size);
    free(dirty);
    unsigned char* zeroed = (unsigned char*)calloc(1, size);
    TT_CHECK(zeroed != NULL);
    check_zeroed(zeroed, size);
    memset(zeroed, 0x5a, size / 2);
    free(zeroed);
  }
}

int main(void) {
  static const size_t sizes[] = {1u << 20, (1u << 20) + 1,    3000000,
                                 8u << 20, (16u << 20) - 100, 64u << 20};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) dirty_then_calloc(sizes[i]);
  /* calloc(n, size) forms with the same total as a freed block. */
  unsigned char* dirty = (unsigned char*)malloc(4u << 20);
  TT_CHECK(dirty != NULL);
  memset(dirty, 0xff, 4u << 20);
  free(dirty);
  unsigned char* rows = (unsigned char*)calloc(1024, 4096);
  TT_CHECK(rows != NULL);
  check_zeroed(rows, 4u << 20);
  free(rows);
  return 0;
}
