// halt_on_error=0 after accesses that fault: debug mode reports a read of one freed record
// and a write into another, each at the instruction, and carries on. The access runs (the
// freed block's page is opened for it), so the program goes on to its end; a second read
// of the first record is not reported again. Before, the fault went on to the default
// action after its report: a second report of an unknown address and death by SIGSEGV.
// TALLY-OPTIONS: mode=debug:halt_on_error=0
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-COUNT: 2
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: touch_stale_record
// TALLY-EXPECT-FREE-FRAME: drop_record
// TALLY-EXPECT-ALLOC-FRAME: make_record
// TALLY-EXPECT-REGEX: READ of size 4 at
// TALLY-EXPECT-REGEX: WRITE of size 4 at
// TALLY-EXPECT-REGEX: ^TALLY-TEST: survived$
// ASAN-KNOWN-ISSUE: ASan stops at the first bad access unless built with -fsanitize-recover=address
#include <string.h>

#include "tally_test.h"

struct record {
  unsigned id;
  unsigned hits;
  char name[24];
};

static TT_NOINLINE struct record* make_record(unsigned id) {
  struct record* record = (struct record*)malloc(sizeof(struct record));
  TT_CHECK(record != NULL);
  memset(record, 0, sizeof *record);
  record->id = id;
  return record;
}

static TT_NOINLINE void drop_record(struct record* record) {
  free(record);
}

static TT_NOINLINE unsigned touch_stale_record(struct record* record, int write) {
  tt_note_bad_access(&record->hits, sizeof record->hits, record, sizeof(struct record));
  unsigned value = 0;
  if (write)
    record->hits = 7;
  else
    value = record->hits;
  tt_after_bad_access();
  return value;
}

int main(void) {
  struct record* first = make_record(1);
  struct record* second = make_record(2);
  drop_record(first);
  drop_record(second);
  tt_consume(touch_stale_record(first, 0));
  tt_consume(touch_stale_record(second, 1));
  // The same page again: opened by the first report, so no second report of it.
  tt_consume(*(volatile unsigned*)&first->id);
  struct record* third = make_record(3);
  TT_CHECK(third->id == 3);
  drop_record(third);
  tt_survived();
  return 0;
}
