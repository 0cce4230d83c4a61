// Free of the start of an mmap'd region (page-aligned, like a large block would be).
// ASan may fault reading its chunk header in the (usually unmapped) page below the
// mapping, so under ASan either a SEGV or a bad-free is accepted.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: release_mapping
// ASAN-EXPECT-KIND: SEGV|bad-free
#include <string.h>
#include <sys/mman.h>

#include "tally_test.h"

#define MAPPING_BYTES (1u << 20)

static TT_NOINLINE void release_mapping(void* mapping) {
  free(mapping); /* should have been munmap */
}

int main(void) {
  void* mapping =
      mmap(NULL, MAPPING_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  TT_CHECK(mapping != MAP_FAILED);
  memset(mapping, 0x5a, MAPPING_BYTES);
  tt_note_bad_free(mapping, NULL, 0);
  release_mapping(mapping);
  tt_survived();
  munmap(mapping, MAPPING_BYTES);
  return 0;
}
