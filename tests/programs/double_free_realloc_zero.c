// Double free through realloc(p, 0): the resize helper treats a NULL result as a failure
// and keeps the old pointer, but with a size of 0 the C library's realloc (glibc's, and
// tally's, which follows it) frees the block and returns NULL. The caller then frees the
// pointer it kept: the block is freed twice, first by realloc.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-REGEX[mode=safe,debug,asan]: is located 0 bytes inside of 100-byte region
// TALLY-EXPECT-ACCESS-FRAME: discard_table
// TALLY-EXPECT-FREE-FRAME: resize_table
// TALLY-EXPECT-ALLOC-FRAME: new_table
#include <string.h>

#include "tally_test.h"

#define TABLE_BYTES 100

struct table {
  char* cells;
  size_t bytes;
};

static TT_NOINLINE void new_table(struct table* table) {
  table->cells = (char*)malloc(TABLE_BYTES);
  TT_CHECK(table->cells != NULL);
  memset(table->cells, 1, TABLE_BYTES);
  table->bytes = TABLE_BYTES;
}

static TT_NOINLINE int resize_table(struct table* table, size_t bytes) {
  char* cells = (char*)realloc(table->cells, bytes);
  if (cells == NULL) return -1; /* "failed": the old cells are kept */
  table->cells = cells;
  table->bytes = bytes;
  return 0;
}

static TT_NOINLINE void discard_table(struct table* table) {
  free(table->cells);
  table->cells = NULL;
}

int main(void) {
  struct table table;
  new_table(&table);
  char* kept = table.cells;
  /* The table emptied: realloc frees the cells and returns NULL, taken for a failure. */
  int resized = resize_table(&table, 0);
  TT_PRECONDITION(resized == -1 && table.cells == kept);
  tt_note_bad_free(table.cells, table.cells, TABLE_BYTES);
  discard_table(&table);
  tt_survived();
  return 0;
}
