// Clean, and light at start: a C program that allocates and frees a little loads no
// library besides its own under tally in fast and safe mode. Safe mode loads libgcc_s's
// unwinder at its first report, not at every start (that cost each process 70 page faults
// and a millisecond: a shell script pays it for every command). Debug mode loads it up
// front, so that reports from the fault handler never have to.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-MODES: fast safe
#include <stdlib.h>
#include <string.h>

#include "tally_test.h"

static int maps_mention(const char* name) {
  FILE* maps = fopen("/proc/self/maps", "r");
  TT_CHECK(maps != NULL);
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, maps))
    if (strstr(line, name)) found = 1;
  fclose(maps);
  return found;
}

int main(void) {
  char* blocks[64];
  for (int i = 0; i < 64; ++i) {
    blocks[i] = malloc(16 + (size_t)i * 24);
    TT_CHECK(blocks[i] != NULL);
    memset(blocks[i], i, 16);
  }
  for (int i = 0; i < 64; ++i) free(blocks[i]);
  const char* preload = getenv("LD_PRELOAD");
  if (preload && strstr(preload, "libtally")) {
    if (maps_mention("libgcc_s")) TT_FAIL("libgcc_s was loaded at start");
  }
  return 0;
}
