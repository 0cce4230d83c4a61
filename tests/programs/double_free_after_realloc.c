// Double free of a block that realloc already released: the buffer grows from 64 bytes to
// 4 MiB (realloc must move it), but a stale alias to the old storage is freed afterwards.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: release_stale_view
#include <string.h>

#include "tally_test.h"

#define INITIAL_BYTES 64
#define GROWN_BYTES (4u << 20)

struct buffer {
  char* data;
  size_t capacity;
};

static TT_NOINLINE void buffer_grow(struct buffer* buffer, size_t capacity) {
  char* bigger = (char*)realloc(buffer->data, capacity);
  TT_CHECK(bigger != NULL);
  buffer->data = bigger;
  buffer->capacity = capacity;
}

static TT_NOINLINE void release_stale_view(char* view) {
  free(view);
}

int main(void) {
  struct buffer buffer = {(char*)malloc(INITIAL_BYTES), INITIAL_BYTES};
  TT_CHECK(buffer.data != NULL);
  memset(buffer.data, 'a', INITIAL_BYTES);
  char* view = buffer.data; /* alias kept across the realloc: the bug */
  buffer_grow(&buffer, GROWN_BYTES);
  TT_PRECONDITION(buffer.data != view); /* realloc to 64x the size must move the block */
  TT_CHECK(buffer.data[INITIAL_BYTES - 1] == 'a');
  tt_note_bad_free(view, view, INITIAL_BYTES);
  release_stale_view(view);
  tt_survived();
  free(buffer.data);
  return 0;
}
