// Free of a stack address: a parser releases the buffer it was given, not knowing the
// caller passed a stack scratch buffer.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: parse_and_release
// TALLY-EXPECT-FRAME: handle_request
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE size_t parse_and_release(char* input) {
  size_t words = 0;
  for (char* cursor = input; *cursor != '\0'; ++cursor) words += (*cursor == ' ');
  free(input); /* assumes the input was heap-allocated */
  return words + 1;
}

static TT_NOINLINE size_t handle_request(void) {
  char scratch[128];
  memset(scratch, 0, sizeof(scratch));
  strcpy(scratch, "GET /index.html HTTP/1.1");
  tt_note_bad_free(scratch, NULL, 0);
  return parse_and_release(scratch);
}

int main(void) {
  char* warm_up = (char*)malloc(32); /* the heap is in use */
  TT_CHECK(warm_up != NULL);
  size_t words = handle_request();
  tt_survived();
  free(warm_up);
  return words == 3 ? 0 : 2;
}
