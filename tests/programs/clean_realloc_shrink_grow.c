// Clean: realloc shrinking then growing again, in place or not. After a shrink only the
// new size is the program's (and it uses exactly that); after growing back, the kept
// prefix must be intact and the rest is new memory the program writes before reading.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void shrink_then_grow(size_t large, size_t small, unsigned seed) {
  unsigned char* block = (unsigned char*)malloc(large);
  TT_CHECK(block != NULL);
  tt_fill(block, large, seed);
  unsigned char* shrunk = (unsigned char*)realloc(block, small);
  TT_CHECK(shrunk != NULL);
  TT_CHECK(tt_verify(shrunk, small, seed));
  shrunk[small - 1] = 0x42; /* the last byte of the shrunk block */
  unsigned char* grown = (unsigned char*)realloc(shrunk, large);
  TT_CHECK(grown != NULL);
  TT_CHECK(tt_verify(grown, small - 1, seed));
  TT_CHECK(grown[small - 1] == 0x42);
  memset(grown + small, 0x17, large - small); /* written before it is read */
  for (size_t i = small; i < large; ++i) TT_CHECK(grown[i] == 0x17);
  free(grown);
}

static TT_NOINLINE void step_by_step(void) {
  /* A buffer resized up and down by one byte at a time, as a text editor's line does. */
  size_t size = 1;
  char* line = (char*)malloc(size);
  TT_CHECK(line != NULL);
  line[0] = 'a';
  for (int step = 0; step < 3000; ++step) {
    size_t next = (step % 7 == 6) ? size - 1 : size + 1;
    if (next == 0) next = 1;
    char* resized = (char*)realloc(line, next);
    TT_CHECK(resized != NULL);
    line = resized;
    for (size_t i = size; i < next; ++i) line[i] = (char)('a' + i % 26);
    size = next;
    for (size_t i = 0; i < size; i += 97) TT_CHECK(line[i] == (char)('a' + i % 26));
    TT_CHECK(line[size - 1] == (char)('a' + (size - 1) % 26));
  }
  free(line);
}

int main(void) {
  shrink_then_grow(1000, 10, 1);
  shrink_then_grow(100, 99, 2);
  shrink_then_grow(4096, 17, 3);
  shrink_then_grow(300000, 1000, 4);     /* large to small */
  shrink_then_grow(2100000, 1100000, 5); /* large to large */
  shrink_then_grow(70000, 60000, 6);
  step_by_step();
  return 0;
}
