// halt_on_error=0: a double free is reported once and then ignored. The freed block must
// be on the free list once, not twice: thousands of blocks of the same size allocated
// afterwards must all be distinct and keep their contents.
// TALLY-OPTIONS: halt_on_error=0
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: release_entry
#include <string.h>

#include "tally_test.h"

#define ENTRY_BYTES 64
#define REFILL 4096

static TT_NOINLINE void release_entry(void* entry) {
  free(entry);
}

static int compare_pointers(const void* left, const void* right) {
  uintptr_t a = *(const uintptr_t*)left, b = *(const uintptr_t*)right;
  return (a > b) - (a < b);
}

int main(void) {
  void* entry = malloc(ENTRY_BYTES);
  TT_CHECK(entry != NULL);
  memset(entry, 'e', ENTRY_BYTES);
  release_entry(entry);
  tt_note_bad_free(entry, entry, ENTRY_BYTES);
  release_entry(entry);
  tt_survived();

  static void* blocks[REFILL];
  static uintptr_t sorted[REFILL];
  for (unsigned i = 0; i < REFILL; ++i) {
    blocks[i] = malloc(ENTRY_BYTES);
    TT_CHECK(blocks[i] != NULL);
    tt_fill(blocks[i], ENTRY_BYTES, i);
    sorted[i] = (uintptr_t)blocks[i];
  }
  for (unsigned i = 0; i < REFILL; ++i) {
    if (!tt_verify(blocks[i], ENTRY_BYTES, i)) {
      TT_FAIL("block %u at %p was overwritten: handed out twice?", i, blocks[i]);
    }
  }
  qsort(sorted, REFILL, sizeof(sorted[0]), compare_pointers);
  for (unsigned i = 1; i < REFILL; ++i) {
    if (sorted[i] - sorted[i - 1] < ENTRY_BYTES) {
      TT_FAIL("blocks 0x%lx and 0x%lx overlap", (unsigned long)sorted[i - 1],
              (unsigned long)sorted[i]);
    }
  }
  for (unsigned i = 0; i < REFILL; ++i) free(blocks[i]);
  return 0;
}
