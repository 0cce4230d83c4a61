// Heap buffer overflow, read past the end of many small blocks: a parser keeps 4000 short
// tokens of 48 bytes and a scan over them reads one byte past each (a bound of <=). Safe
// mode guards one allocation in sample_rate, here 50: among 4000 tokens some are guarded
// for sure (the next sample comes within one and a half rates), and the first guarded
// token's read faults. (That the rate itself holds is checked_mode_test's to show.)
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-OPTIONS[mode=safe]: sample_rate=50
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 48-byte region
// TALLY-EXPECT-ACCESS-FRAME: checksum_token
// TALLY-EXPECT-ALLOC-FRAME: new_token
#include "tally_test.h"

#define TOKENS 4000
#define TOKEN_BYTES 48

static TT_NOINLINE unsigned char* new_token(int number) {
  unsigned char* token = (unsigned char*)malloc(TOKEN_BYTES);
  TT_CHECK(token != NULL);
  for (int i = 0; i < TOKEN_BYTES; ++i) token[i] = (unsigned char)(number * 31 + i);
  return token;
}

static TT_NOINLINE unsigned long checksum_token(const unsigned char* token) {
  unsigned long sum = 0;
  tt_note_bad_access(token + TOKEN_BYTES, 1, token, TOKEN_BYTES);
  for (int i = 0; i <= TOKEN_BYTES; ++i) sum += token[i]; /* one too many */
  return sum;
}

int main(void) {
  static unsigned char* tokens[TOKENS];
  for (int i = 0; i < TOKENS; ++i) tokens[i] = new_token(i);
  unsigned long sum = 0;
  for (int i = 0; i < TOKENS; ++i) sum += checksum_token(tokens[i]);
  tt_after_bad_access();
  tt_consume(sum);
  for (int i = 0; i < TOKENS; ++i) free(tokens[i]);
  return 0;
}
