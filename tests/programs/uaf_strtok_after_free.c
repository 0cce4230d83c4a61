// Use after free, read, inside the C library: strtok keeps a pointer into the string it
// tokenises. A CSV loader takes the first field of a line with strtok, keeps a copy of it
// and frees the line; the next call, strtok(NULL, ","), carries on from the pointer strtok
// saved, into the freed line. The read is in the C library's strtok_r, called from
// next_field. debug mode catches it (the freed block's page is inaccessible); safe mode
// reads the poison and goes on, unless the line was a sampled guarded block; fast mode
// reads the stale bytes. AddressSanitizer misses it: its strtok interceptor checks the
// string passed in (none here, strtok(NULL, ...)), and the C library is not instrumented.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// ASAN-EXPECT-KIND: none
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: next_field
// TALLY-EXPECT-FREE-FRAME: load_first_field
// TALLY-EXPECT-ALLOC-FRAME: load_first_field
#include <string.h>

#include "tally_test.h"

static char* line_start; /* only for the announcement below */
static size_t line_bytes;

static TT_NOINLINE char* load_first_field(const char* text) {
  char* line = strdup(text);
  TT_CHECK(line != NULL);
  line_start = line;
  line_bytes = strlen(text) + 1;
  char* first = strtok(line, ",");
  TT_CHECK(first != NULL);
  char* copy = strdup(first);
  TT_CHECK(copy != NULL);
  free(line); /* strtok still points into the line */
  return copy;
}

static TT_NOINLINE char* next_field(void) {
  /* strtok goes on just past the terminator it wrote after the first field */
  size_t resume = strlen("name") + 1;
  tt_note_bad_access(line_start + resume, line_bytes - resume, line_start, line_bytes);
  char* field = strtok(NULL, ",");
  tt_after_bad_access();
  return field;
}

int main(void) {
  char* name = load_first_field("name,age,city,country,zip,phone,email,notes");
  TT_CHECK(strcmp(name, "name") == 0);
  char* field = next_field();
  tt_consume((unsigned long)(field != NULL ? field[0] : '-'));
  free(name);
  return 0;
}
