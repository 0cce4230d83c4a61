// Double free after the block's guard slot was reused: debug mode guards the 16-byte
// session key, frees it, and a small pool (8 slots, all used) hands the key's slot to the
// next blocks; the 32-byte token that takes it last starts 16 bytes lower, so the key's
// address now lies inside the live token. A second free of the key is still a double free
// of the key: the pool remembers where a slot's last four blocks started, with their
// histories, and the report names the live token too. In fast and safe mode the key is an
// ordinary block, still free (safe mode: quarantined) when it is freed again.
// TALLY-OPTIONS[mode=debug]: guard_pool_size=8
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-REGEX[mode=safe,debug,asan]: is located 0 bytes inside of 16-byte region
// TALLY-EXPECT-REGEX[mode=debug]: guard slot has been reused since: 0x[0-9a-f]+ is now 16 bytes
// inside a live 32-byte region TALLY-EXPECT-ACCESS-FRAME: forget_key TALLY-EXPECT-FREE-FRAME:
// forget_key TALLY-EXPECT-ALLOC-FRAME: make_key
#include <string.h>

#include "tally_test.h"

#define KEY_BYTES 16
#define TOKEN_BYTES 32
#define POOL_SLOTS 8

static TT_NOINLINE char* make_key(void) {
  char* key = (char*)malloc(KEY_BYTES);
  TT_CHECK(key != NULL);
  memcpy(key, "k3y-0f-s3ss10n!", KEY_BYTES);
  return key;
}

static TT_NOINLINE void forget_key(char* key) {
  free(key);
}

/* Blocks allocated and freed, each taking (in debug mode) the pool's oldest freed slot. */
static TT_NOINLINE void churn(int blocks) {
  for (int i = 0; i < blocks; ++i) {
    char* block = (char*)malloc(64);
    TT_CHECK(block != NULL);
    block[0] = (char)i;
    free(block);
  }
}

int main(void) {
  churn(POOL_SLOTS); /* every slot used once: the next blocks reuse them, oldest first */
  char* key = make_key();
  forget_key(key);
  churn(POOL_SLOTS - 1);                    /* the other seven slots */
  char* token = (char*)malloc(TOKEN_BYTES); /* the key's slot */
  TT_CHECK(token != NULL);
  memset(token, 't', TOKEN_BYTES);
  tt_note_bad_free(key, key, KEY_BYTES);
  forget_key(key);
  tt_survived();
  free(token);
  return 0;
}
