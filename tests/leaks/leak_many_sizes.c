/* Leaks of many sizes from one call site, small and large blocks (a 300 KiB and a 5 MiB
 * block get mappings of their own): one group with every byte asked for. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 5618998 8 leak_of_size
#include "leak_test.h"

static LT_NOINLINE void leak_of_size(size_t size) {
  char* block = malloc(size);
  block[0] = block[size - 1] = 1;
}

int main(void) {
  static const size_t sizes[] = {1, 17, 100, 1000, 5000, 70000, 300000, 5u << 20};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    leak_of_size(sizes[i]);
    total += sizes[i];
  }
  LT_EXPECT(total == 5618998);
  lt_scrub_stack();
  return lt_finish();
}
