// Heap buffer overflow, read one byte past a block whose size is not a multiple of 16: a
// 37-byte message (no terminator) is scanned for its end with a loop that trusts a
// terminator to be there. malloc aligns blocks to 16 bytes, so a block flush against a
// guard page at a 16-byte boundary would leave 11 bytes of slack where the read lands
// unseen; debug mode aligns a guarded block to its size instead, at least to
// guard_alignment (2 by default: an odd size then leaves one byte of slack, and this scan
// faults a byte later). With guard_alignment=1 the block ends at the guard page and the
// first byte past it faults, as under ASan and memcheck. A block that safe mode samples
// into a guard slot keeps malloc's alignment: the scan reads the slack's canary bytes,
// which are not zero, and faults at the guard page 11 bytes further.
// TALLY-OPTIONS[mode=debug]: guard_alignment=1
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-buffer-overflow
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX[mode=debug,asan]: is located 0 bytes to the right of 37-byte region
// TALLY-EXPECT-REGEX[mode=safe]: is located (0|11) bytes to the right of 37-byte region
// TALLY-EXPECT-ACCESS-FRAME: message_length
// TALLY-EXPECT-ALLOC-FRAME: receive_message
#include <string.h>

#include "tally_test.h"

#define MESSAGE_BYTES 37

static TT_NOINLINE char* receive_message(void) {
  char* message = (char*)malloc(MESSAGE_BYTES);
  TT_CHECK(message != NULL);
  memset(message, 'x', MESSAGE_BYTES); /* a full buffer: no room left for a terminator */
  return message;
}

static TT_NOINLINE size_t message_length(const volatile char* message) {
  size_t length = 0;
  /* The first byte past the end, or (safe mode) up to the 16-byte boundary after it. */
  tt_note_bad_access(&message[MESSAGE_BYTES], 12, message, MESSAGE_BYTES);
  while (message[length] != '\0') ++length; /* runs past the end */
  tt_after_bad_access();
  return length;
}

int main(void) {
  char* message = receive_message();
  tt_consume(message_length(message));
  free(message);
  return 0;
}
