// Heap buffer overflow, write, in a block that is never freed: a label is copied with its
// terminator into a block sized by strlen (the classic forgotten + 1), and the block lives
// on in a global until the program exits. With no free, no free-time check ever looks at
// the canary after it. Debug mode verifies the canaries of the blocks still live at exit
// (canaries_at_exit) and reports the damaged byte with the allocation stack, with or without
// the leak check; safe mode does when the leak check runs at exit. The label is 21 bytes,
// so even a debug-mode block placed before a guard page (aligned to 16, as malloc's blocks
// of 16 bytes or more must be) leaves slack for the terminator to land in. ASan and
// memcheck see the write itself.
// TALLY-OPTIONS[mode=safe]: leaks=1
// TALLY-OPTIONS[mode=debug]: leaks=0
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 21-byte region
// TALLY-EXPECT-REGEX[mode=safe,debug]: found at exit, in a block that was never freed
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: copy_label
// TALLY-EXPECT-ALLOC-FRAME: copy_label
#include <string.h>

#include "tally_test.h"

static const char* const kLabel = "sensor-17/north-wing"; /* 20 characters... */
static char* g_label;                                     /* reachable: no leak */

static TT_NOINLINE char* copy_label(const char* label) {
  size_t length = strlen(label) + 1; /* ...21 with the separator written below */
  char* copy = (char*)malloc(length);
  TT_CHECK(copy != NULL);
  memcpy(copy, label, length - 1);
  copy[length - 1] = '#';
  tt_note_bad_access(&copy[length], 1, copy, length);
  copy[length] = '\0'; /* one past the end */
  tt_after_bad_access();
  return copy;
}

int main(void) {
  g_label = copy_label(kLabel);
  tt_say("label %.21s", g_label);
  return 0;
}
