// Clean: memory reused heavily. Five rounds each allocate 200 MB in small blocks (256 B
// to 4 KiB), verify them and free them all, far more than a quarantine may hold. Every
// round's blocks must be intact (a block handed out twice, or poison written into a
// live block, shows up as a FAIL), and outside debug mode the peak resident size must
// stay bounded: a quarantine that never releases would reach a gigabyte.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 240
#include <string.h>

#include "tally_test.h"

#define ROUND_BYTES (200u * 1024u * 1024u)
#define ROUNDS 5
#define MAX_BLOCKS 200000
#define PEAK_LIMIT_KIB (800L * 1024L)

static void* blocks[MAX_BLOCKS];
static unsigned short sizes[MAX_BLOCKS];

static TT_NOINLINE size_t allocate_round(unsigned round) {
  size_t total = 0;
  size_t count = 0;
  unsigned state = 12345u + round;
  while (total < ROUND_BYTES && count < MAX_BLOCKS) {
    state = state * 1103515245u + 12345u;
    size_t size = 256 + (state >> 8) % (4096 - 256);
    unsigned char* block = (unsigned char*)malloc(size);
    TT_CHECK(block != NULL);
    /* Stamp the first and last 16 bytes and one byte per page in between. */
    memset(block, (int)(count & 0xff), 16);
    memset(block + size - 16, (int)(round & 0xff), 16);
    for (size_t at = 4096; at < size; at += 4096) block[at] = 0x3c;
    blocks[count] = block;
    sizes[count] = (unsigned short)size;
    total += size;
    ++count;
  }
  return count;
}

static TT_NOINLINE void verify_and_free_round(size_t count, unsigned round) {
  for (size_t i = 0; i < count; ++i) {
    unsigned char* block = (unsigned char*)blocks[i];
    size_t size = sizes[i];
    for (int j = 0; j < 16; ++j) {
      if (block[j] != (unsigned char)(i & 0xff) || block[size - 16 + j] != (unsigned char)round)
        TT_FAIL("round %u: block %zu (%p, %zu bytes) was changed while live", round, i,
                (void*)block, size);
    }
  }
  for (size_t i = 0; i < count; ++i) free(blocks[i]);
}

static TT_NOINLINE int in_debug_mode(void) {
  const char* options = getenv("TALLY_OPTIONS");
  return options != NULL && strstr(options, "mode=debug") != NULL;
}

int main(void) {
  for (unsigned round = 0; round < ROUNDS; ++round) {
    size_t count = allocate_round(round);
    verify_and_free_round(count, round);
  }
  long current = 0, peak = 0;
  tt_rss_kib(&current, &peak);
  /* debug mode spends a page or more per block by design: no bound there. */
  if (!in_debug_mode() && peak > PEAK_LIMIT_KIB)
    TT_FAIL("peak RSS %ld KiB after %d rounds of 200 MB: the freed memory is not reused", peak,
            ROUNDS);
  return 0;
}
