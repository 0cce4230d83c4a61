// Use after free, write via memcpy: a frame assembler is reset on a protocol error (its
// frame is freed, the pointer kept), and the next payload is copied into the old frame. In
// safe mode sampling is off: the test is of the poison check (no sampled guard page may
// catch the write first).
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: assembler_put
// TALLY-EXPECT-FREE-FRAME: assembler_reset
// TALLY-EXPECT-ALLOC-FRAME: assembler_open
#include <string.h>

#include "tally_test.h"

#define FRAME_BYTES 300

struct assembler {
  unsigned char* frame;
  size_t filled;
};

static TT_NOINLINE void assembler_open(struct assembler* assembler) {
  assembler->frame = (unsigned char*)malloc(FRAME_BYTES);
  TT_CHECK(assembler->frame != NULL);
  assembler->filled = 0;
}

static TT_NOINLINE void assembler_reset(struct assembler* assembler) {
  free(assembler->frame);
  assembler->filled = 16; /* keeps room for a header that is never written again */
}

static TT_NOINLINE void assembler_put(struct assembler* assembler, const void* payload,
                                      size_t length) {
  tt_note_bad_access(assembler->frame + assembler->filled, length, assembler->frame, FRAME_BYTES);
  memcpy(assembler->frame + assembler->filled, payload, length);
  tt_after_bad_access();
  assembler->filled += length;
}

int main(void) {
  struct assembler assembler;
  assembler_open(&assembler);
  assembler_reset(&assembler);
  static const char payload[] = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDE";
  assembler_put(&assembler, payload, 64);
  return 0;
}
