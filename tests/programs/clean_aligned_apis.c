// Clean: every aligned allocation API, over a range of alignments and sizes, each block
// checked for alignment, written, and freed (some after a realloc).
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <errno.h>
#include <malloc.h>
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void use_block(void* block, size_t alignment, size_t size) {
  TT_CHECK(block != NULL);
  TT_CHECK((uintptr_t)block % alignment == 0);
  TT_CHECK(malloc_usable_size(block) >= size);
  memset(block, 0xa5, size);
}

int main(void) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t sizes[] = {0, 1, 7, 64, 100, 4096, 5000, 70000, 3u << 20};
  for (size_t alignment = sizeof(void*); alignment <= (1u << 20); alignment *= 2) {
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
      size_t size = sizes[i];
      void* posix = NULL;
      TT_CHECK(posix_memalign(&posix, alignment, size) == 0);
      use_block(posix, alignment, size);

      void* classic = memalign(alignment, size);
      use_block(classic, alignment, size);

      size_t c11_size = (size + alignment - 1) / alignment * alignment; /* C11 rule */
      void* c11 = aligned_alloc(alignment, c11_size == 0 ? alignment : c11_size);
      use_block(c11, alignment, c11_size);

      /* realloc of an aligned block keeps the data (alignment need not survive) */
      unsigned char* moved = (unsigned char*)realloc(classic, size + 300);
      TT_CHECK(moved != NULL);
      for (size_t b = 0; b < size; ++b) TT_CHECK(moved[b] == 0xa5);

      free(posix);
      free(moved);
      free(c11);
    }
  }
  void* invalid = NULL;
  TT_CHECK(posix_memalign(&invalid, 24, 100) == EINVAL); /* not a power of two */
  TT_CHECK(invalid == NULL);

  void* page_block = valloc(1000);
  use_block(page_block, page, 1000);
  void* rounded = pvalloc(page + 1);
  use_block(rounded, page, page + 1);
  TT_CHECK(malloc_usable_size(rounded) >= 2 * page);
  free(page_block);
  free(rounded);
  return 0;
}
