// The exit status after a report follows the `exitcode` option.
// TALLY-OPTIONS: exitcode=23
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 23
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: drop_token
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void drop_token(char* token) {
  free(token);
}

int main(void) {
  char* token = (char*)malloc(20);
  TT_CHECK(token != NULL);
  strcpy(token, "secret");
  drop_token(token);
  tt_note_bad_free(token, token, 20);
  drop_token(token);
  tt_survived();
  return 0;
}
