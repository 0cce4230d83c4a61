// Heap buffer underflow, write, a page-sized block: a table of 512 offsets is filled from
// its end down with a loop that stops one step too late and writes the slot before the
// first. The block is one whole page, so in debug mode it starts at a page boundary of its
// guarded slot and the byte before it is in the slot's previous page, which is kept
// inaccessible: the write faults at once, before the damage can spread.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-buffer-overflow
// TALLY-EXPECT-ACCESS: WRITE
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 8 bytes to the left of 4096-byte region
// TALLY-EXPECT-ACCESS-FRAME: fill_offsets
// TALLY-EXPECT-ALLOC-FRAME: new_offset_table
#include "tally_test.h"

#define ENTRIES 512

static TT_NOINLINE long* new_offset_table(void) {
  long* table = (long*)malloc(ENTRIES * sizeof(long));
  TT_CHECK(table != NULL);
  return table;
}

static TT_NOINLINE void fill_offsets(volatile long* table, long stride) {
  tt_note_bad_access(&table[-1], sizeof(long), table, ENTRIES * sizeof(long));
  for (int i = ENTRIES - 1; i >= -1; --i) table[i] = i * stride; /* i == -1: one too far */
  tt_after_bad_access();
}

int main(void) {
  long* table = new_offset_table();
  fill_offsets(table, 24);
  tt_consume((unsigned long)table[7]);
  free(table);
  return 0;
}
