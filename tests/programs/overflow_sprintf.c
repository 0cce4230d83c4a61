// Heap buffer overflow, write, inside the C library: sprintf into a 32-byte buffer sized
// for a short label. A host name and a 17-digit id make the label 36 characters, and
// sprintf writes them and the terminator 5 bytes past the end. 32 is a multiple of 16: in
// debug mode the buffer ends at its guard page and the write faults inside the C
// library's printf code; in safe mode the canary in the block's slack is found damaged
// when the label is freed (or, if the block was a sampled guarded one, the write faults).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located \d+ bytes to the right of 32-byte region
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: format_label
// TALLY-EXPECT-ACCESS-FRAME: label_replica
// TALLY-EXPECT-ALLOC-FRAME: format_label
/* The overflow below is the point of the test: keep gcc's format-length check quiet. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-overflow"
#endif
#include <stdio.h>
#include <string.h>

#include "tally_test.h"

#define LABEL_BYTES 32

static TT_NOINLINE char* format_label(const char* host, unsigned long id) {
  char* label = (char*)malloc(LABEL_BYTES);
  TT_CHECK(label != NULL);
  size_t length = (size_t)snprintf(NULL, 0, "%s:%lu", host, id);
  tt_note_bad_access(label + LABEL_BYTES, length + 1 - LABEL_BYTES, label, LABEL_BYTES);
  sprintf(label, "%s:%lu", host, id); /* no bound */
  tt_after_bad_access();
  return label;
}

static TT_NOINLINE int label_replica(const char* host, unsigned long id) {
  char* label = format_label(host, id);
  int colon = strchr(label, ':') != NULL;
  free(label);
  return colon;
}

int main(void) {
  TT_CHECK(label_replica("db-replica-eu-west", 18446744073709551ul) == 1);
  return 0;
}
