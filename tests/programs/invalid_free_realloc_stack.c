// realloc of a stack pointer: a line reader starts with a small on-stack buffer and grows
// it with realloc when a line is longer, forgetting the first buffer is not heap memory.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: grow_line
// TALLY-EXPECT-FRAME: read_long_line
#include <string.h>

#include "tally_test.h"

struct line {
  char* text;
  size_t capacity;
};

static TT_NOINLINE void grow_line(struct line* line, size_t capacity) {
  char* grown = (char*)realloc(line->text, capacity);
  TT_CHECK(grown != NULL);
  line->text = grown;
  line->capacity = capacity;
}

static TT_NOINLINE size_t read_long_line(void) {
  char inline_storage[64];
  memset(inline_storage, 0, sizeof(inline_storage));
  struct line line = {inline_storage, sizeof(inline_storage)};
  const char* input = "a line that is definitely longer than sixty-four characters, by far";
  size_t length = strlen(input);
  if (length + 1 > line.capacity) {
    tt_note_bad_free(line.text, NULL, 0);
    grow_line(&line, 2 * (length + 1));
  }
  memcpy(line.text, input, length + 1);
  tt_survived();
  if (line.text != inline_storage) free(line.text);
  return length;
}

int main(void) {
  return read_long_line() > 64 ? 0 : 2;
}
