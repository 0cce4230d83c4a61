// Double free of a small block in one thread: a cleanup helper that does not clear the
// pointer it frees is called twice on the same message.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: release_message
#include <string.h>

#include "tally_test.h"

struct message {
  char* text;
  size_t length;
};

static TT_NOINLINE void make_message(struct message* message, const char* text) {
  message->length = strlen(text) + 1;
  message->text = (char*)malloc(message->length);
  TT_CHECK(message->text != NULL);
  memcpy(message->text, text, message->length);
}

static TT_NOINLINE void release_message(struct message* message) {
  free(message->text); /* forgets to reset message->text */
}

int main(void) {
  struct message greeting;
  make_message(&greeting, "hello, bookkeeper");
  release_message(&greeting);
  tt_note_bad_free(greeting.text, greeting.text, greeting.length);
  release_message(&greeting);
  tt_survived();
  return 0;
}
