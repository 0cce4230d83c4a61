// Clean: big buffers (40-250 KiB) used in part, freed and allocated again, many times over
// what a quarantine holds. Some are written at their start only, some at a page in the
// middle, some whole; a page of each malloc'd one is read before anything is written to it
// (it reads as whatever malloc left there), those from calloc must read as zeros
// everywhere, and those that grow with realloc must keep their contents. In debug mode the whole
// pages of a freed big block that the program never touched are dropped rather than
// poisoned: none of this may look like a write after free, and calloc's zeros, realloc's
// copies and the program's own bytes must all be intact.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-OPTIONS[mode=debug]: guard_max_size=4096
#include <string.h>

#include "tally_test.h"

#define SLOTS 64
#define STEPS 6000

struct buffer {
  unsigned char* data;
  size_t size;
  unsigned char stamp;
  int whole;  // written whole (else: its start, and one page in the middle)
};

static struct buffer slots[SLOTS];

static TT_NOINLINE void write_buffer(struct buffer* buffer) {
  if (buffer->whole) {
    memset(buffer->data, buffer->stamp, buffer->size);
  } else {
    memset(buffer->data, buffer->stamp, 100);
    memset(buffer->data + buffer->size / 2, buffer->stamp, 100);
  }
}

static TT_NOINLINE void check_buffer(const struct buffer* buffer) {
  TT_CHECK(buffer->data[0] == buffer->stamp && buffer->data[99] == buffer->stamp);
  TT_CHECK(buffer->data[buffer->size / 2] == buffer->stamp);
  if (buffer->whole) TT_CHECK(buffer->data[buffer->size - 1] == buffer->stamp);
}

int main(void) {
  unsigned state = 4242u;
  for (int step = 0; step < STEPS; ++step) {
    state = state * 1103515245u + 12345u;
    struct buffer* buffer = &slots[(state >> 8) % SLOTS];
    if (buffer->data) {
      check_buffer(buffer);
      if ((state >> 20) % 8 == 0) {
        /* Grow it: its bytes must follow. */
        size_t grown = buffer->size + 30000;
        unsigned char* moved = (unsigned char*)realloc(buffer->data, grown);
        TT_CHECK(moved != NULL);
        buffer->data = moved;
        check_buffer(buffer);
        if (buffer->whole) memset(buffer->data + buffer->size, buffer->stamp, grown - buffer->size);
        buffer->size = grown;
        if (!buffer->whole) memset(buffer->data + buffer->size / 2, buffer->stamp, 100);
        continue;
      }
      free(buffer->data);
    }
    state = state * 1103515245u + 12345u;
    buffer->size = 40000 + (state >> 8) % 210000;
    buffer->stamp = (unsigned char)(1 + (state >> 24) % 250);
    buffer->whole = (state >> 4) % 3 == 0;
    if ((state >> 12) % 4 == 0) {
      buffer->data = (unsigned char*)calloc(1, buffer->size);
      TT_CHECK(buffer->data != NULL);
      for (size_t i = 0; i < buffer->size; i += 509) TT_CHECK(buffer->data[i] == 0);
      TT_CHECK(buffer->data[buffer->size - 1] == 0);
    } else {
      buffer->data = (unsigned char*)malloc(buffer->size);
      TT_CHECK(buffer->data != NULL);
      /* Read a page it never writes before writing anything: whatever it holds is fine. */
      volatile unsigned char untouched = buffer->data[buffer->size / 4];
      (void)untouched;
    }
    write_buffer(buffer);
  }
  for (int i = 0; i < SLOTS; ++i) free(slots[i].data);
  return 0;
}
