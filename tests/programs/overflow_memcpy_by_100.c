// Heap buffer overflow, write, memcpy overrun by 100 bytes: an upload handler sizes its
// chunk buffer from the announced length (200) but copies the received length (300). In
// debug mode the copy runs past the slack into the guard page and faults inside memcpy; in
// safe mode the canary in the slack is damaged and the free reports it. In safe mode
// sampling is off: the test is of the canary check (no sampled guard page may catch the
// write first).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located \d+ bytes to the right of 200-byte region
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: copy_chunk
// TALLY-EXPECT-ACCESS-FRAME: handle_upload
// TALLY-EXPECT-ALLOC-FRAME: handle_upload
#include <string.h>

#include "tally_test.h"

#define ANNOUNCED 200
#define RECEIVED 300

static TT_NOINLINE void copy_chunk(unsigned char* chunk, const unsigned char* data, size_t length) {
  tt_note_bad_access(chunk + ANNOUNCED, length - ANNOUNCED, chunk, ANNOUNCED);
  memcpy(chunk, data, length);
  tt_after_bad_access();
}

static TT_NOINLINE unsigned handle_upload(size_t announced, const unsigned char* data,
                                          size_t received) {
  unsigned char* chunk = (unsigned char*)malloc(announced);
  TT_CHECK(chunk != NULL);
  copy_chunk(chunk, data, received); /* trusts the received length */
  unsigned sum = 0;
  for (size_t i = 0; i < announced; ++i) sum += chunk[i];
  free(chunk);
  return sum;
}

int main(void) {
  static unsigned char data[RECEIVED];
  for (size_t i = 0; i < sizeof(data); ++i) data[i] = (unsigned char)('A' + i % 26);
  tt_consume(handle_upload(ANNOUNCED, data, RECEIVED));
  return 0;
}
