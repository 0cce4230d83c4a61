/* A buffer grown with realloc and then dropped: the leak is the grown block, of its new
 * size, allocated by the realloc. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 4000 1 grow_buffer
#include "leak_test.h"

static LT_NOINLINE char* grow_buffer(void) {
  char* buffer = malloc(24);
  strcpy(buffer, "small");
  buffer = realloc(buffer, 4000);
  memset(buffer + 6, 'x', 3000);
  return buffer;
}

int main(void) {
  grow_buffer();
  lt_scrub_stack();
  return lt_finish();
}
