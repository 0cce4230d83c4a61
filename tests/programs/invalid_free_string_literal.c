// Free of a string literal: a lookup returns either a formatted heap string or a literal,
// and the caller frees whatever it got.
// ASan itself cannot report this one: it reads its chunk header just below the pointer and
// faults on the read-only page (it dies with SEGV inside its free).
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: release_label
// ASAN-EXPECT-KIND: SEGV|bad-free
#include <stdio.h>

#include "tally_test.h"

static TT_NOINLINE char* label_for(int code) {
  if (code >= 0) {
    char* label = (char*)malloc(32);
    TT_CHECK(label != NULL);
    snprintf(label, 32, "code-%d", code);
    return label;
  }
  return (char*)"unknown";
}

static TT_NOINLINE void release_label(char* label) {
  free(label);
}

int main(void) {
  char* label = label_for(12);
  release_label(label);
  label = label_for(-1);
  tt_note_bad_free(label, NULL, 0);
  release_label(label);
  tt_survived();
  return 0;
}
