// Clean: pointers to freed memory are kept (in a table, in a struct, compared, hashed,
// printed) but never dereferenced. Holding a dangling pointer is not a bug; only using
// it is. Nothing may be reported in any mode, including at exit when safe mode checks
// its quarantine.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

#define ENTRIES 256

struct registry {
  void* freed[ENTRIES]; /* remembered for a diagnostics dump */
  uintptr_t hashes[ENTRIES];
};

static TT_NOINLINE void fill_and_free(struct registry* registry) {
  for (int i = 0; i < ENTRIES; ++i) {
    size_t size = 16 + (size_t)(i * 37) % 3000;
    char* block = (char*)malloc(size);
    TT_CHECK(block != NULL);
    memset(block, 'd', size);
    registry->freed[i] = block;
    free(block);
    registry->hashes[i] = ((uintptr_t)registry->freed[i] >> 4) * 2654435761u;
  }
}

static TT_NOINLINE int count_distinct(const struct registry* registry) {
  int distinct = 0;
  for (int i = 0; i < ENTRIES; ++i) {
    int seen = 0;
    for (int j = 0; j < i && !seen; ++j) seen = registry->freed[j] == registry->freed[i];
    distinct += !seen;
  }
  return distinct;
}

int main(void) {
  static struct registry registry;
  fill_and_free(&registry);
  TT_CHECK(count_distinct(&registry) >= 1);
  char line[64];
  int length = snprintf(line, sizeof(line), "last freed at %p", registry.freed[ENTRIES - 1]);
  TT_CHECK(length > 0);
  /* A freed pointer compared with a new allocation's is fine too (equal or not). */
  void* fresh = malloc(40);
  TT_CHECK(fresh != NULL);
  tt_consume((unsigned long)(fresh == registry.freed[0]));
  free(fresh);
  return 0;
}
