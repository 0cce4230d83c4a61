// Double free with an unrelated allocation in between. The allocation in between is of a
// different size class (40 vs 600 bytes) so it cannot legitimately reuse the freed block:
// the second free is unambiguously a double free.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: drop_user_name
#include <stdio.h>
#include <string.h>

#include "tally_test.h"

#define NAME_BYTES 40
#define REPORT_BYTES 600

static TT_NOINLINE void drop_user_name(char* name) {
  free(name);
}

static TT_NOINLINE char* format_report(const char* name) {
  char* report = (char*)malloc(REPORT_BYTES);
  TT_CHECK(report != NULL);
  snprintf(report, REPORT_BYTES, "user %s logged out", name);
  return report;
}

int main(void) {
  char* name = (char*)malloc(NAME_BYTES);
  TT_CHECK(name != NULL);
  strcpy(name, "ada");
  char* report = format_report(name);
  drop_user_name(name);
  char* other = (char*)malloc(REPORT_BYTES); /* unrelated allocation in between */
  TT_CHECK(other != NULL);
  memset(other, 'x', REPORT_BYTES);
  tt_note_bad_free(name, name, NAME_BYTES);
  drop_user_name(name);
  tt_survived();
  free(other);
  free(report);
  return 0;
}
