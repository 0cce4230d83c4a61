// Use after free, read, large block (300 KiB: a mapping of its own, and beyond
// guard_max_size, so no guard page): a parser frees its input buffer on an error path,
// then the error message quotes bytes from it. debug mode makes a quarantined large block
// inaccessible (protect_large), so the read faults at the instruction. safe mode poisons
// only the block's head and does not protect large blocks (two mprotect calls and a
// refault of every page per free cost too much for production), so the read is not seen
// there. fast mode makes no promise.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-STATUS[mode=fast]: 0|SIGSEGV
// TALLY-EXPECT[mode=safe]: none
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: quote_error_context
// TALLY-EXPECT-FREE-FRAME: abandon_input
// TALLY-EXPECT-ALLOC-FRAME: read_input
#include <string.h>

#include "tally_test.h"

#define INPUT_BYTES (300u * 1024u)

static TT_NOINLINE char* read_input(void) {
  char* input = (char*)malloc(INPUT_BYTES);
  TT_CHECK(input != NULL);
  memset(input, 'x', INPUT_BYTES);
  return input;
}

static TT_NOINLINE void abandon_input(char* input) {
  free(input);
}

static TT_NOINLINE unsigned long quote_error_context(const char* input) {
  const char* context = input + 200000;
  tt_note_bad_access(context, 16, input, INPUT_BYTES);
  unsigned long sum = 0;
  for (int i = 0; i < 16; ++i) sum += (unsigned char)context[i];
  tt_after_bad_access();
  return sum;
}

int main(void) {
  char* input = read_input();
  abandon_input(input);
  tt_consume(quote_error_context(input));
  return 0;
}
