/* A suppressions file names one of two leaks: only the other is reported, and the report
 * shows which suppression was used and how much it hid. */
// LEAK-MODES: debug
// LEAK-OPTIONS: suppressions={source_dir}/leak_suppressed.supp
// LEAK-EXPECT: direct 16 1 fresh_leak
// LEAK-EXPECT-REGEX: Suppressions used:\n  count      bytes template\n +1 +700 legacy_cache_fill
#include "leak_test.h"

static LT_NOINLINE void legacy_cache_fill(void) {
  char* cache = malloc(700);
  memset(cache, 1, 700);
}

static LT_NOINLINE void fresh_leak(void) {
  char* block = malloc(16);
  block[0] = 1;
}

int main(void) {
  legacy_cache_fill();
  fresh_leak();
  lt_scrub_stack();
  return lt_finish();
}
