/* Blocks reachable only from globals (initialized data, zeroed data, a function's static),
 * through an interior pointer in a global, or only from inside another reachable block:
 * none is a leak. Then each pointer is dropped in turn, and the check finds exactly that
 * block (or chain) leaked, so the check above could have failed. */
// LEAK-MODES: debug fast
// LEAK-OPTIONS[mode=fast]: leaks=1
// LEAK-EXPECT: direct 24 1 make_block
// LEAK-EXPECT: direct 40 1 make_block
// LEAK-EXPECT: direct 56 1 make_block
// LEAK-EXPECT: direct 72 1 make_block
// LEAK-EXPECT: direct 88 1 make_block
// LEAK-EXPECT: indirect 104 1 make_block
// LEAK-EXPECT[mode=fast]: direct 32 1
// LEAK-EXPECT[mode=fast]: direct 48 1
// LEAK-EXPECT[mode=fast]: direct 64 1
// LEAK-EXPECT[mode=fast]: direct 80 1
// LEAK-EXPECT[mode=fast]: direct 96 1
// LEAK-EXPECT[mode=fast]: indirect 112 1
// LEAK-EXPECT-STATUS: 0
#include "leak_test.h"

void* g_initialized = (void*)1; /* .data */
void* g_zeroed;                 /* .bss */
char* g_interior;
void** g_outer;

static void** static_slot(void) {
  static void* slot;
  return &slot;
}

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

static LT_NOINLINE void setup(void) {
  g_initialized = make_block(24);
  g_zeroed = make_block(40);
  *static_slot() = make_block(56);
  g_interior = (char*)make_block(72) + 30;
  g_outer = make_block(88);
  g_outer[2] = make_block(104);
}

/* Drops one root; the check must find what only it kept alive (the bytes asked for, or in
 * fast mode, which keeps no record of them, the blocks' size classes), then the program
 * frees it. */
static LT_NOINLINE void drop_and_check(void** root, size_t expected, size_t expected_fast,
                                       size_t offset, int chain) {
  uintptr_t hidden = lt_hide((char*)*root - offset);
  *root = NULL;
  lt_scrub_stack();
  size_t leaked = lt_check_leaks();
  if (leaked != expected && leaked != expected_fast) {
    printf("TALLY-LEAK-TEST: FAIL: expected %zu (or %zu) leaked bytes, found %zu\n", expected,
           expected_fast, leaked);
    ++lt_failures;
  }
  void** block = lt_unhide(hidden);
  if (chain) free(block[2]);
  free(block);
}

int main(void) {
  setup();
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  drop_and_check(&g_initialized, 24, 32, 0, 0);
  drop_and_check(&g_zeroed, 40, 48, 0, 0);
  drop_and_check(static_slot(), 56, 64, 0, 0);
  drop_and_check((void**)&g_interior, 72, 80, 30, 0);
  drop_and_check((void**)&g_outer, 88 + 104, 96 + 112, 0, 1);
  return lt_finish();
}
