// Free of a non-canonical x86-64 address (a poisoned pointer pattern). Touching it would
// fault with SIGSEGV/SIGBUS: the allocator must reject it from its own books.
// ASan cannot report this one either (SEGV inside its free).
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: release_poisoned
// ASAN-EXPECT-KIND: SEGV
#include "tally_test.h"

static TT_NOINLINE void release_poisoned(void* pointer) {
  free(pointer);
}

int main(void) {
  void* poisoned = (void*)(uintptr_t)0xdeadbeefdeadbeefull;
  tt_note_bad_free(poisoned, NULL, 0);
  release_poisoned(poisoned);
  tt_survived();
  return 0;
}
