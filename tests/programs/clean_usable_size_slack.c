// Clean: the whole usable size is the program's to use. glibc programs (and
// _FORTIFY_SOURCE=3) rely on malloc_usable_size: every byte up to it may be written and
// read, it never changes for a block's life, and realloc keeps the contents. In safe and
// debug mode tally reports the requested size as the usable size, so its canaries sit
// beyond what is usable; this program uses exactly malloc_usable_size(p) bytes.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <malloc.h>
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void use_whole_usable_size(size_t request, unsigned seed) {
  unsigned char* block = (unsigned char*)malloc(request);
  TT_CHECK(block != NULL);
  size_t usable = malloc_usable_size(block);
  TT_CHECK(usable >= request);
  tt_fill(block, usable, seed); /* writes up to the last usable byte */
  TT_CHECK(tt_verify(block, usable, seed));
  TT_CHECK(malloc_usable_size(block) == usable); /* stable for the block's life */
  block[usable - 1] ^= 0x5a;                     /* the last usable byte, again */
  block[usable - 1] ^= 0x5a;
  unsigned char* grown = (unsigned char*)realloc(block, usable + 100);
  TT_CHECK(grown != NULL);
  TT_CHECK(tt_verify(grown, usable, seed)); /* realloc keeps every usable byte */
  size_t grown_usable = malloc_usable_size(grown);
  TT_CHECK(grown_usable >= usable + 100);
  tt_fill(grown, grown_usable, seed + 1);
  free(grown);
}

static TT_NOINLINE void string_in_slack(void) {
  /* A string builder that sizes by malloc_usable_size (as some C libraries do). */
  char* text = (char*)malloc(20);
  TT_CHECK(text != NULL);
  size_t capacity = malloc_usable_size(text);
  memset(text, 'x', capacity - 1);
  text[capacity - 1] = '\0';
  TT_CHECK(strlen(text) == capacity - 1);
  free(text);
}

static TT_NOINLINE void calloc_and_aligned(void) {
  unsigned char* zeroed = (unsigned char*)calloc(3, 33);
  TT_CHECK(zeroed != NULL);
  size_t usable = malloc_usable_size(zeroed);
  for (size_t i = 0; i < 99; ++i) TT_CHECK(zeroed[i] == 0);
  memset(zeroed, 0xcb, usable); /* even bytes that look like a canary are fine */
  free(zeroed);
  void* aligned = NULL;
  TT_CHECK(posix_memalign(&aligned, 256, 1000) == 0);
  usable = malloc_usable_size(aligned);
  TT_CHECK(usable >= 1000);
  memset(aligned, 0xdf, usable);
  free(aligned);
}

int main(void) {
  static const size_t requests[] = {1,    7,    15,    16,    17,    24,    37,     63,     64,
                                    65,   100,  127,   200,   255,   500,   1000,   1023,   1500,
                                    4000, 4097, 10000, 65535, 65536, 70000, 200000, 1048577};
  for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); ++i)
    use_whole_usable_size(requests[i], (unsigned)i);
  string_in_slack();
  calloc_and_aligned();
  return 0;
}
