/* In fast and safe modes no allocation stack is recorded: leaks are grouped by size (the
 * block's size class in fast mode, which keeps no record of the size asked for; the size
 * asked for in safe mode). */
// LEAK-MODES: fast safe
// LEAK-OPTIONS: leaks=1
// LEAK-EXPECT[mode=fast]: direct 144 3
// LEAK-EXPECT[mode=fast]: direct 224 1
// LEAK-EXPECT[mode=safe]: direct 144 3
// LEAK-EXPECT[mode=safe]: direct 200 1
// LEAK-EXPECT-REGEX: allocation stack not recorded
#include "leak_test.h"

static LT_NOINLINE void leak(size_t size) {
  char* block = malloc(size);
  block[0] = 1;
}

int main(void) {
  leak(48);
  leak(48);
  leak(48);
  leak(200);
  lt_scrub_stack();
  return lt_finish();
}
