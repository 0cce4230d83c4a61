// Heap buffer overflow, read past the end of a 150000-byte block (between 64 KiB and
// 256 KiB, the largest small block): a table scan's bound is off by one row. Reads change
// nothing, so only a caught access reports it: debug mode, whose guard pages now cover
// every small block (flush against the guard page: the first byte past the end faults),
// a sampled guard page in safe mode.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-buffer-overflow
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 150000-byte region
// TALLY-EXPECT-ACCESS-FRAME: sum_rows
// TALLY-EXPECT-ALLOC-FRAME: load_table
#include "tally_test.h"

#define ROWS 3750
#define ROW_BYTES 40 /* 150000 bytes in all, a multiple of 16 */

static TT_NOINLINE unsigned char* load_table(void) {
  unsigned char* table = (unsigned char*)malloc(ROWS * ROW_BYTES);
  TT_CHECK(table != NULL);
  for (size_t i = 0; i < ROWS * ROW_BYTES; ++i) table[i] = (unsigned char)(i * 7);
  return table;
}

static TT_NOINLINE unsigned long sum_rows(const unsigned char* table, int rows) {
  unsigned long sum = 0;
  tt_note_bad_access(table + (size_t)rows * ROW_BYTES, 1, table, (size_t)rows * ROW_BYTES);
  for (int row = 0; row <= rows; ++row) sum += table[(size_t)row * ROW_BYTES]; /* one too many */
  tt_after_bad_access();
  return sum;
}

int main(void) {
  unsigned char* table = load_table();
  tt_consume(sum_rows(table, ROWS));
  free(table);
  return 0;
}
