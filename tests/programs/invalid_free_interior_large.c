// Free of an interior pointer of a large live block (8 MiB): the second page of a table is
// freed as if it were a block of its own.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 4096 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: free_table_page
#include <string.h>

#include "tally_test.h"

#define TABLE_BYTES (8u << 20)
#define PAGE_BYTES 4096

static TT_NOINLINE void free_table_page(unsigned char* page) {
  free(page);
}

int main(void) {
  unsigned char* table = (unsigned char*)malloc(TABLE_BYTES);
  TT_CHECK(table != NULL);
  memset(table, 1, TABLE_BYTES);
  unsigned char* second_page = table + PAGE_BYTES;
  tt_note_bad_free(second_page, table, TABLE_BYTES);
  free_table_page(second_page);
  tt_survived();
  free(table);
  return 0;
}
