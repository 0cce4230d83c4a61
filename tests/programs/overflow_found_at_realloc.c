// Heap buffer overflow, write, found at realloc: a string builder writes its terminator
// one byte past the buffer when the text fills it exactly; the damage is found when the
// next append grows the buffer with realloc (canaries are checked at free and at
// realloc), so the report's first stack is the realloc's. In debug mode too: the 50-byte
// block, guarded, is aligned to 16 as malloc's blocks must be, and ends 14 bytes before its
// guard page, in slack that canaries cover (with guard_alignment=2 it would end at the guard
// page and the write itself would fault, as under AddressSanitizer).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 50-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=safe,debug]: builder_grow
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: builder_append
// TALLY-EXPECT-ACCESS-FRAME: build_greeting
// TALLY-EXPECT-ALLOC-FRAME: builder_init
#include <string.h>

#include "tally_test.h"

struct builder {
  char* text;
  size_t length;
  size_t capacity; /* bytes of text, the terminator included */
};

static TT_NOINLINE void builder_init(struct builder* builder, size_t capacity) {
  builder->text = (char*)malloc(capacity);
  TT_CHECK(builder->text != NULL);
  builder->text[0] = '\0';
  builder->length = 0;
  builder->capacity = capacity;
}

static TT_NOINLINE void builder_grow(struct builder* builder, size_t needed) {
  size_t capacity = builder->capacity * 2 > needed ? builder->capacity * 2 : needed;
  char* grown = (char*)realloc(builder->text, capacity);
  TT_CHECK(grown != NULL);
  builder->text = grown;
  builder->capacity = capacity;
}

static TT_NOINLINE void builder_append(struct builder* builder, const char* piece) {
  size_t length = strlen(piece);
  if (builder->length + length > builder->capacity)
    builder_grow(builder, builder->length + length + 1);
  memcpy(builder->text + builder->length, piece, length); /* "fits" when it fills it */
  builder->length += length;
  if (builder->length == builder->capacity)
    tt_note_bad_access(builder->text + builder->length, 1, builder->text, builder->capacity);
  builder->text[builder->length] = '\0'; /* one past the end when full */
  if (builder->length == builder->capacity) tt_after_bad_access();
}

static TT_NOINLINE size_t build_greeting(void) {
  struct builder builder;
  builder_init(&builder, 50);
  builder_append(&builder, "Dear customer, your order #4711 has been shipped"); /* 48 */
  builder_append(&builder, ".\n");                                              /* 50 */
  builder_append(&builder, "Track it at https://example.org/t/4711\n");
  size_t length = builder.length;
  free(builder.text);
  return length;
}

int main(void) {
  tt_consume(build_greeting());
  return 0;
}
