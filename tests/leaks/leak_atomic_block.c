/* tally_malloc_atomic blocks are never scanned: a pointer kept only inside one keeps
 * nothing alive (the payload it names is leaked), while the same pointer in an ordinary
 * block does. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 80 1 make_payload
#include "leak_test.h"

void** g_atomic_holder;
void** g_plain_holder;

static LT_NOINLINE void* make_payload(size_t size) {
  return calloc(1, size);
}

static LT_NOINLINE void fill_holders(void) {
  g_atomic_holder = lt_malloc_atomic(64);
  g_atomic_holder[3] = make_payload(80);
  g_plain_holder = malloc(64);
  memset(g_plain_holder, 0, 64);
  g_plain_holder[3] = make_payload(96);
}

int main(void) {
  fill_holders();
  lt_scrub_stack();
  return lt_finish();
}
