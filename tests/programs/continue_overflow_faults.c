// halt_on_error=0 after overflows that reach a guard page: debug mode reports a read one
// past a 64-byte buffer and a write one past a 32-byte one, each at the instruction (the
// blocks end where their guard pages begin), and carries on: the guard page is opened for
// the access, and the program frees both buffers and ends normally. Before, the second
// report was of an unknown address, and the process died of SIGSEGV.
// TALLY-OPTIONS: mode=debug:halt_on_error=0
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-COUNT: 2
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: step_past_end
// TALLY-EXPECT-ALLOC-FRAME: make_buffer
// TALLY-EXPECT-REGEX: READ of size 1 at
// TALLY-EXPECT-REGEX: WRITE of size 1 at
// TALLY-EXPECT-REGEX: ^TALLY-TEST: survived$
// ASAN-KNOWN-ISSUE: ASan stops at the first bad access unless built with -fsanitize-recover=address
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE char* make_buffer(size_t size) {
  char* buffer = (char*)malloc(size);
  TT_CHECK(buffer != NULL);
  memset(buffer, 'b', size);
  return buffer;
}

static TT_NOINLINE char step_past_end(char* buffer, size_t size, int write) {
  tt_note_bad_access(buffer + size, 1, buffer, size);
  char value = 0;
  if (write)
    ((volatile char*)buffer)[size] = 'x';
  else
    value = ((volatile char*)buffer)[size];
  tt_after_bad_access();
  return value;
}

int main(void) {
  char* line = make_buffer(64);
  char* word = make_buffer(32);
  tt_consume((unsigned long)step_past_end(line, 64, 0));
  tt_consume((unsigned long)step_past_end(word, 32, 1));
  free(line);
  free(word);
  char* again = make_buffer(64);
  TT_CHECK(again[63] == 'b');
  free(again);
  tt_survived();
  return 0;
}
