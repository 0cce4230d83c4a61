// Heap buffer overflow, write, inside the C library: snprintf told the wrong size. The
// buffer was made 48 bytes when the message format changed, but the call still passes the
// old constant (64); the 52-character message and its terminator run 5 bytes past the
// end. 48 is a multiple of 16: in debug mode the buffer ends at its guard page and the
// write faults inside the C library's printf code; in safe mode the canary in the block's
// slack is found damaged when the message is freed (or, if the block was a sampled
// guarded one, the write faults).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located \d+ bytes to the right of 48-byte region
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: render_account
// TALLY-EXPECT-ACCESS-FRAME: log_account
// TALLY-EXPECT-ALLOC-FRAME: render_account
#include <stdio.h>
#include <string.h>

#include "tally_test.h"

#define OLD_MESSAGE_BYTES 64 /* the size before the format changed */
#define MESSAGE_BYTES 48

static TT_NOINLINE char* render_account(const char* user, int uid) {
  char* message = (char*)malloc(MESSAGE_BYTES);
  TT_CHECK(message != NULL);
  const char* format = "user=%s uid=%d shell=/bin/bash home=/home/%s";
  size_t length = (size_t)snprintf(NULL, 0, format, user, uid, user);
  TT_PRECONDITION(length + 1 > MESSAGE_BYTES && length + 1 <= OLD_MESSAGE_BYTES);
  tt_note_bad_access(message + MESSAGE_BYTES, length + 1 - MESSAGE_BYTES, message, MESSAGE_BYTES);
  snprintf(message, OLD_MESSAGE_BYTES, format, user, uid, user); /* the wrong size */
  tt_after_bad_access();
  return message;
}

static TT_NOINLINE size_t log_account(const char* user, int uid) {
  char* message = render_account(user, uid);
  size_t length = strlen(message);
  free(message);
  return length;
}

int main(void) {
  TT_CHECK(log_account("alice", 1000) == 52);
  return 0;
}
