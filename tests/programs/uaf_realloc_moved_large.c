// Use after free, read, after realloc moved a large block: a log collector keeps a
// pointer to the first record of its 1 MiB buffer, the buffer grows to 3 MiB with
// realloc, then the collector reads the record through the stale pointer. debug mode
// moves every realloc'd block; a large one by moving its pages, leaving the old range
// behind inaccessible in quarantine, so the read faults. (The kernel may grow a large
// block in place in the other modes: nothing to report there.)
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: first_record_length
// TALLY-EXPECT-FREE-FRAME: collector_grow
// TALLY-EXPECT-ALLOC-FRAME: collector_create
#include <string.h>

#include "tally_test.h"

#define INITIAL_BYTES (1u << 20)
#define GROWN_BYTES (3u << 20)

static TT_NOINLINE char* collector_create(void) {
  char* buffer = (char*)malloc(INITIAL_BYTES);
  TT_CHECK(buffer != NULL);
  memset(buffer, 'r', INITIAL_BYTES);
  memcpy(buffer, "\x05hello", 6);
  return buffer;
}

static TT_NOINLINE char* collector_grow(char* buffer) {
  char* grown = (char*)realloc(buffer, GROWN_BYTES);
  TT_CHECK(grown != NULL);
  /* The contents moved with the block. */
  TT_CHECK(memcmp(grown, "\x05hello", 6) == 0 && grown[INITIAL_BYTES - 1] == 'r');
  memset(grown + INITIAL_BYTES, 's', GROWN_BYTES - INITIAL_BYTES);
  return grown;
}

static TT_NOINLINE unsigned long first_record_length(const char* record) {
  return (unsigned char)record[0];
}

int main(void) {
  char* buffer = collector_create();
  const char* first_record = buffer;
  char* grown = collector_grow(buffer);
  if (grown == buffer) return 0; /* grew in place: nothing stale (not in debug mode) */
  tt_note_bad_access(first_record, 1, buffer, INITIAL_BYTES);
  tt_consume(first_record_length(first_record));
  tt_after_bad_access();
  free(grown);
  return 0;
}
