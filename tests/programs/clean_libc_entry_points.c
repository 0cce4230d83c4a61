// Clean: glibc's allocator entry points under their own names (__libc_malloc, __libc_free
// and the rest, which glibc exports and some programs and preloaded libraries call
// directly), mixed with the standard names in every direction. They must reach the same
// allocator: a block from glibc's own heap handed to tally's free would be reported as a
// bad free (as it was before tally exported them), and the reverse would corrupt glibc's
// heap.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

extern void* __libc_malloc(size_t size);
extern void __libc_free(void* pointer);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* pointer, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void* __libc_valloc(size_t size);
extern void* __libc_pvalloc(size_t size);

int main(void) {
  char* block = (char*)__libc_malloc(40);
  TT_CHECK(block != NULL);
  tt_fill(block, 40, 1);
  block = (char*)realloc(block, 4000); /* grown by the standard name */
  TT_CHECK(block != NULL);
  TT_CHECK(tt_verify(block, 40, 1));
  free(block);

  block = (char*)malloc(24);
  TT_CHECK(block != NULL);
  tt_fill(block, 24, 2);
  block = (char*)__libc_realloc(block, 100000);
  TT_CHECK(block != NULL);
  TT_CHECK(tt_verify(block, 24, 2));
  __libc_free(block);

  unsigned char* zeroed = (unsigned char*)__libc_calloc(30, 7);
  TT_CHECK(zeroed != NULL);
  for (size_t i = 0; i < 210; ++i) TT_CHECK(zeroed[i] == 0);
  free(zeroed);

  void* aligned = __libc_memalign(256, 300);
  TT_CHECK(aligned != NULL && (uintptr_t)aligned % 256 == 0);
  tt_fill(aligned, 300, 3);
  free(aligned);

  void* page = __libc_valloc(5000);
  TT_CHECK(page != NULL && (uintptr_t)page % 4096 == 0);
  tt_fill(page, 5000, 4);
  __libc_free(page);

  void* pages = __libc_pvalloc(100);
  TT_CHECK(pages != NULL && (uintptr_t)pages % 4096 == 0);
  tt_fill(pages, 4096, 5); /* pvalloc rounds up to whole pages */
  free(pages);

  char* text = strdup("from the C library's own malloc");
  TT_CHECK(text != NULL);
  __libc_free(text);
  tt_say("every entry point reached one allocator");
  return 0;
}
