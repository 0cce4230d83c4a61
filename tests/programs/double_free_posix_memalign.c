// Double free of a page-aligned block from posix_memalign.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: release_page
#include <string.h>

#include "tally_test.h"

#define PAGE_ALIGNMENT 4096
#define PAGE_PAYLOAD 1000

static TT_NOINLINE void release_page(void* page) {
  free(page);
}

int main(void) {
  void* page = NULL;
  TT_CHECK(posix_memalign(&page, PAGE_ALIGNMENT, PAGE_PAYLOAD) == 0);
  TT_CHECK(page != NULL);
  TT_CHECK((uintptr_t)page % PAGE_ALIGNMENT == 0);
  memset(page, 0, PAGE_PAYLOAD);
  release_page(page);
  tt_note_bad_free(page, page, PAGE_PAYLOAD);
  release_page(page);
  tt_survived();
  return 0;
}
