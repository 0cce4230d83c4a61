// realloc of a block that was already freed: reported as a double free (by realloc).
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: append_record
#include <string.h>

#include "tally_test.h"

#define RECORD_BYTES 48

struct log_buffer {
  char* records;
  size_t used;
};

static TT_NOINLINE void reset_log(struct log_buffer* log) {
  free(log->records); /* frees but leaves log->records dangling */
  log->used = 0;
}

static TT_NOINLINE void append_record(struct log_buffer* log, const char* record) {
  char* grown = (char*)realloc(log->records, log->used + RECORD_BYTES);
  TT_CHECK(grown != NULL);
  log->records = grown;
  strncpy(log->records + log->used, record, RECORD_BYTES);
  log->used += RECORD_BYTES;
}

int main(void) {
  struct log_buffer log = {(char*)malloc(RECORD_BYTES), 0};
  TT_CHECK(log.records != NULL);
  append_record(&log, "boot");
  reset_log(&log);
  tt_note_bad_free(log.records, log.records, RECORD_BYTES);
  append_record(&log, "after reset");
  tt_survived();
  free(log.records);
  return 0;
}
