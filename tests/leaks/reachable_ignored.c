/* tally_ignore_leak: an unreachable block marked ignored is never reported, and neither is
 * what only it reaches; once freed, its address starts anew, and a new block there that
 * leaks is reported. */
// LEAK-MODES: debug fast
// LEAK-OPTIONS[mode=fast]: leaks=1
// LEAK-EXPECT: direct 64 1 make_block
// LEAK-EXPECT[mode=fast]: direct 64 1
// LEAK-EXPECT-STATUS: 0
#include "leak_test.h"

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

int main(void) {
  void** singleton = make_block(64);
  singleton[0] = make_block(200);
  lt_ignore_leak(singleton);
  uintptr_t hidden = lt_hide(singleton);
  singleton = NULL;
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  void** block = lt_unhide(hidden);
  free(block[0]);
  free(block);
  block = NULL; /* the new block may well take the freed one's place */
  void* fresh = make_block(64);
  hidden = lt_hide(fresh);
  fresh = NULL;
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 64);
  free(lt_unhide(hidden));
  return lt_finish();
}
