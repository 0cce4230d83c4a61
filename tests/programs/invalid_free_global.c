// Free of a global variable: a name defaults to a static buffer and is only sometimes
// strdup'd, but is always freed.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: forget_name
#include <string.h>

#include "tally_test.h"

static char default_name[32] = "anonymous";

static TT_NOINLINE char* choose_name(const char* requested) {
  if (requested != NULL) return strdup(requested);
  return default_name;
}

static TT_NOINLINE void forget_name(char* name) {
  free(name);
}

int main(int argc, char** argv) {
  char* named = choose_name("explicit");
  forget_name(named); /* fine: strdup'd */
  char* name = choose_name(argc > 5 ? argv[5] : NULL);
  tt_note_bad_free(name, NULL, 0);
  forget_name(name);
  tt_survived();
  return 0;
}
