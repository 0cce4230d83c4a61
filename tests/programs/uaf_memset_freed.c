// Use after free, write via memset: a buffer's storage is released (freed) by one path that
// forgets to clear the pointer, and a later reset clears the storage with memset. The write
// happens inside the C library's memset, called from buffer_reset. In safe mode sampling is
// off: the test is of the poison check (no sampled guard page may catch the write first).
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: buffer_reset
// TALLY-EXPECT-FREE-FRAME: buffer_release
// TALLY-EXPECT-ALLOC-FRAME: buffer_init
#include <string.h>

#include "tally_test.h"

#define BUFFER_BYTES 200

struct buffer {
  char* data;
  size_t capacity;
  size_t used;
};

static TT_NOINLINE void buffer_init(struct buffer* buffer) {
  buffer->data = (char*)malloc(BUFFER_BYTES);
  TT_CHECK(buffer->data != NULL);
  buffer->capacity = BUFFER_BYTES;
  buffer->used = 0;
}

static TT_NOINLINE void buffer_release(struct buffer* buffer) {
  free(buffer->data); /* forgets buffer->data = NULL */
  buffer->used = 0;
}

static TT_NOINLINE void buffer_reset(struct buffer* buffer) {
  tt_note_bad_access(buffer->data, buffer->capacity, buffer->data, BUFFER_BYTES);
  memset(buffer->data, 0, buffer->capacity);
  tt_after_bad_access();
  buffer->used = 0;
}

int main(void) {
  struct buffer buffer;
  buffer_init(&buffer);
  memcpy(buffer.data, "header", 7);
  buffer.used = 7;
  buffer_release(&buffer);
  buffer_reset(&buffer);
  return 0;
}
