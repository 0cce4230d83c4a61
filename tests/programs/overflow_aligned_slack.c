// Heap buffer overflow, write, into the slack of an aligned block: a cache-line-aligned
// buffer of 96 bytes (posix_memalign with 64) takes a 112-byte record. An aligned block's
// slack reaches to its alignment (96 rounds to 128 with 64), past the 16-byte rounding of
// its size: in debug mode the guarded block sits that far from its guard page, so only
// the canary over the whole slack sees these bytes, when the buffer is freed.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 96-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: fill_record
// TALLY-EXPECT-ACCESS-FRAME: publish_record
// TALLY-EXPECT-ALLOC-FRAME: new_line_buffer
#include <string.h>

#include "tally_test.h"

#define BUFFER_BYTES 96
#define RECORD_BYTES 112

static TT_NOINLINE unsigned char* new_line_buffer(void) {
  void* buffer = NULL;
  TT_CHECK(posix_memalign(&buffer, 64, BUFFER_BYTES) == 0);
  return (unsigned char*)buffer;
}

static TT_NOINLINE void fill_record(unsigned char* buffer) {
  tt_note_bad_access(buffer + BUFFER_BYTES, RECORD_BYTES - BUFFER_BYTES, buffer, BUFFER_BYTES);
  for (int i = 0; i < RECORD_BYTES; ++i) buffer[i] = (unsigned char)(i + 1);
  tt_after_bad_access();
}

static TT_NOINLINE void release_line_buffer(unsigned char* buffer) {
  free(buffer);
}

static TT_NOINLINE unsigned publish_record(void) {
  unsigned char* buffer = new_line_buffer();
  fill_record(buffer);
  unsigned first = buffer[0];
  release_line_buffer(buffer);
  return first;
}

int main(void) {
  tt_consume(publish_record());
  return 0;
}
