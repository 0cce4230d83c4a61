/* A block whose only pointer lives in memory tally does not scan (a shared mapping the
 * program made itself; its private anonymous mappings are scanned): leaked, until the
 * mapping is registered with tally_add_root; then no leak; after tally_remove_root, leaked
 * again. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 152 1 make_block
// LEAK-EXPECT: direct 152 1 make_block
// LEAK-EXPECT-STATUS: 0
#include <sys/mman.h>

#include "leak_test.h"

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

int main(void) {
  void** arena = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  arena[1000] = make_block(152);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 152);
  lt_add_root(arena, 1 << 16);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  lt_remove_root(arena);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 152);
  free(arena[1000]);
  munmap(arena, 1 << 16);
  return lt_finish();
}
