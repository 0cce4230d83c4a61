// Double free long after the first free: 512 MB of other blocks are allocated and freed
// in between, far more than any quarantine holds, so in safe mode the block has left the
// quarantine before the second free. It must still be a double free (the books say the
// block is free), though its history may be gone by then. The churn uses another size
// class than the block, so the block itself is never handed out again. In debug mode the
// block is guarded and the churn reuses its guard slot for a 2000-byte block, which the
// token's address lies inside: the pool remembers where the slot's last few blocks started
// (with their histories), so the free is still a double free, with both stacks.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: release_token
// TALLY-EXPECT-SECTIONS:
// TALLY-EXPECT-FREE-FRAME: release_token
// TALLY-EXPECT-ALLOC-FRAME: issue_token
// TALLY-TIMEOUT: 120
// ASAN-KNOWN-ISSUE: ASan forgets a block after its 256 MB quarantine (second free: bad-free)
#include <string.h>

#include "tally_test.h"

#define TOKEN_BYTES 40
#define CHURN_BLOCK 2000
#define CHURN_BLOCKS_LIVE 1024
#define CHURN_TOTAL (512u * 1024u * 1024u)

static TT_NOINLINE char* issue_token(void) {
  char* token = (char*)malloc(TOKEN_BYTES);
  TT_CHECK(token != NULL);
  memcpy(token, "tok_8f2c91d4e07a", 17);
  return token;
}

static TT_NOINLINE void release_token(char* token) {
  free(token);
}

static TT_NOINLINE void churn(void) {
  static void* live[CHURN_BLOCKS_LIVE];
  size_t total = 0;
  for (unsigned round = 0; total < CHURN_TOTAL; ++round) {
    for (int i = 0; i < CHURN_BLOCKS_LIVE; ++i) {
      live[i] = malloc(CHURN_BLOCK);
      TT_CHECK(live[i] != NULL);
      memset(live[i], (int)round, 64);
    }
    for (int i = 0; i < CHURN_BLOCKS_LIVE; ++i) free(live[i]);
    total += (size_t)CHURN_BLOCKS_LIVE * CHURN_BLOCK;
  }
}

int main(void) {
  char* token = issue_token();
  release_token(token);
  churn();
  tt_note_bad_free(token, token, TOKEN_BYTES);
  release_token(token);
  tt_survived();
  return 0;
}
