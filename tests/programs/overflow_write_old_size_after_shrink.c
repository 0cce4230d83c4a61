// Heap buffer overflow, write, at the size a block had before realloc shrank it: a
// 4000-byte buffer holding 1000 bytes is shrunk to fit, but its capacity field is not
// updated, and the wipe before release clears the old 4000 bytes. debug mode moves every
// realloc'd block: the 1000-byte block is new, on its guard page (16-byte aligned, so 8
// bytes of slack before the page), and the wipe faults there, inside memset. safe mode
// shrinks the block in place: the wipe damages the canary after the 1000 bytes, found
// when the buffer is freed (or, if the new block was a sampled guarded one, the wipe
// faults).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located \d+ bytes to the right of 1000-byte region
// TALLY-EXPECT-REGEX[mode=debug]: is located 8 bytes to the right of 1000-byte region
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: wipe_buffer
// TALLY-EXPECT-ACCESS-FRAME: release_buffer
// TALLY-EXPECT-ALLOC-FRAME: shrink_to_fit
#include <string.h>

#include "tally_test.h"

#define CAPACITY_BYTES 4000
#define USED_BYTES 1000

struct buffer {
  char* data;
  size_t capacity;
  size_t length;
};

static TT_NOINLINE void shrink_to_fit(struct buffer* buffer) {
  char* smaller = (char*)realloc(buffer->data, buffer->length);
  TT_CHECK(smaller != NULL);
  buffer->data = smaller; /* the capacity is not updated */
}

static TT_NOINLINE void wipe_buffer(struct buffer* buffer) {
  tt_note_bad_access(buffer->data + buffer->length, buffer->capacity - buffer->length, buffer->data,
                     buffer->length);
  memset(buffer->data, 0, buffer->capacity);
  tt_after_bad_access();
}

static TT_NOINLINE void release_buffer(struct buffer* buffer) {
  wipe_buffer(buffer);
  free(buffer->data);
  buffer->data = NULL;
}

int main(void) {
  struct buffer buffer = {(char*)malloc(CAPACITY_BYTES), CAPACITY_BYTES, USED_BYTES};
  TT_CHECK(buffer.data != NULL);
  memset(buffer.data, 'a', buffer.length);
  shrink_to_fit(&buffer);
  TT_CHECK(buffer.data[USED_BYTES - 1] == 'a');
  release_buffer(&buffer);
  return 0;
}
