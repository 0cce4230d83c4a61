/* Blocks whose size is not a multiple of 8 that hold pointers: records with a flexible
 * array of characters after a pointer (malloc(sizeof header + length + 1)), a common C
 * shape. In debug mode such a block ends at its guard page and so starts at an address
 * that is not a multiple of 8 (guard_alignment); its pointers sit at multiples of 8 from its
 * start, where the marker must look for them, or every block they reach is reported as a
 * leak. The chain is reachable from a global; a second chain of the same shape is dropped,
 * so its head is a direct leak and the rest indirect, with their requested sizes. */
// LEAK-MODES: debug safe fast
// LEAK-OPTIONS: leaks=1
// LEAK-EXPECT: direct 13 1 new_record
// LEAK-EXPECT: indirect 91 7 new_record
// LEAK-EXPECT[mode=safe]: direct 13 1
// LEAK-EXPECT[mode=safe]: indirect 91 7
// LEAK-EXPECT[mode=fast]: direct 16 1
// LEAK-EXPECT[mode=fast]: indirect 112 7
#include "leak_test.h"

struct record {
  struct record* next;
  char name[]; /* the block ends with the name's terminator */
};

struct record* g_kept;

/* Names of 4 characters: blocks of 8 + 4 + 1 = 13 bytes, aligned to 1 in debug mode. */
static LT_NOINLINE struct record* new_record(struct record* next, int number) {
  struct record* record = malloc(sizeof *record + 5);
  record->next = next;
  snprintf(record->name, 5, "r%03d", number);
  return record;
}

static LT_NOINLINE struct record* build_chain(int count) {
  struct record* head = NULL;
  for (int i = 0; i < count; ++i) head = new_record(head, i);
  return head;
}

int main(void) {
  g_kept = build_chain(40);
  build_chain(8);
  lt_scrub_stack();
  LT_EXPECT(strcmp(g_kept->name, "r039") == 0);
  return lt_finish();
}
