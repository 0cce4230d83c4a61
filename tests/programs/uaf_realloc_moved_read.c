// Use after free, read, after realloc moved the block: a line reader keeps a pointer to
// the current token inside its buffer, reads more input (the buffer grows with realloc
// and moves), then compares the token through the stale pointer.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: token_equals
// TALLY-EXPECT-FREE-FRAME: reader_append
// TALLY-EXPECT-ALLOC-FRAME: reader_create
#include <string.h>

#include "tally_test.h"

#define INITIAL_CAPACITY 40

struct reader {
  char* buffer;
  size_t length;
  size_t capacity;
};

static TT_NOINLINE void reader_create(struct reader* reader) {
  reader->buffer = (char*)malloc(INITIAL_CAPACITY);
  TT_CHECK(reader->buffer != NULL);
  reader->length = 0;
  reader->capacity = INITIAL_CAPACITY;
}

static TT_NOINLINE void reader_append(struct reader* reader, const char* text) {
  size_t length = strlen(text);
  if (reader->length + length + 1 > reader->capacity) {
    size_t capacity = (reader->length + length + 1) * 2;
    char* grown = (char*)realloc(reader->buffer, capacity);
    TT_CHECK(grown != NULL);
    reader->buffer = grown;
    reader->capacity = capacity;
  }
  memcpy(reader->buffer + reader->length, text, length + 1);
  reader->length += length;
}

static TT_NOINLINE int token_equals(const char* token, const char* word) {
  size_t i = 0;
  for (; word[i] != '\0'; ++i) {
    if (token[i] != word[i]) return 0;
  }
  return 1;
}

int main(void) {
  struct reader reader;
  reader_create(&reader);
  reader_append(&reader, "GET /index.html");
  const char* verb = reader.buffer; /* the token "GET" */
  char* first_buffer = reader.buffer;
  reader_append(&reader,
                " HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n"
                "User-Agent: tally-test/1.0\r\n\r\n");
  TT_PRECONDITION(reader.buffer != first_buffer);
  tt_note_bad_access(verb, 3, first_buffer, INITIAL_CAPACITY);
  tt_consume((unsigned long)token_equals(verb, "GET"));
  tt_after_bad_access();
  return 0;
}
