// Use after free, write, deep inside a big buffer the program had used only the start of:
// a log shipper sizes its batch buffer for the worst case (160 KiB), fills the first few
// lines, ships and frees the batch, and a late callback appends a line at the offset it
// had reserved, 100 KiB in, on a page the program never touched before the free. debug
// mode poisons whole blocks: that page was dropped rather than filled, comes back with
// the write and is reported when the block leaves the quarantine (here at exit), with the
// offset. guard_max_size keeps the block off the guard pages, so that the poison is what
// finds it. safe mode poisons the first 4 KiB of a block only (sampling off): it cannot.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=debug]: guard_max_size=4096
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: append_late_line
// TALLY-EXPECT-FREE-FRAME: ship_batch
// TALLY-EXPECT-ALLOC-FRAME: start_batch
#include <string.h>

#include "tally_test.h"

#define BATCH_BYTES (160u * 1024u)
#define LATE_LINE_OFFSET (100u * 1024u + 24u)

static TT_NOINLINE char* start_batch(void) {
  char* batch = (char*)malloc(BATCH_BYTES);
  TT_CHECK(batch != NULL);
  for (int line = 0; line < 20; ++line) memcpy(batch + line * 64, "level=info msg=started\n", 23);
  return batch;
}

static TT_NOINLINE void ship_batch(char* batch) {
  TT_CHECK(batch[0] == 'l');
  free(batch);
}

static TT_NOINLINE void append_late_line(char* batch) {
  tt_note_bad_access(batch + LATE_LINE_OFFSET, 8, batch, BATCH_BYTES);
  memcpy(batch + LATE_LINE_OFFSET, "late=1\n", 8);
  tt_after_bad_access();
}

int main(void) {
  char* batch = start_batch();
  ship_batch(batch);
  append_late_line(batch);
  return 0;
}
