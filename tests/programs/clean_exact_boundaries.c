// Clean: every requested size from 1 to 1100 (and some large ones) is written and read
// exactly to its last byte, with the byte values tally uses for poison (0xDF) and
// canaries (0xCB), zero and 0xFF; NUL-terminated strings that end exactly at the last
// byte are read with strlen, strcpy and memcmp. The canary must start after the
// requested size, and debug mode's guard page after the block's usable end.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 120
#include <string.h>

#include "tally_test.h"

static const unsigned char kPatterns[] = {0xdf, 0xcb, 0x00, 0xff};

static TT_NOINLINE void exact_size(size_t size, unsigned char pattern) {
  unsigned char* block = (unsigned char*)malloc(size);
  TT_CHECK(block != NULL);
  memset(block, pattern, size);
  block[size - 1] = (unsigned char)(pattern ^ 1);
  for (size_t i = 0; i + 1 < size; ++i) TT_CHECK(block[i] == pattern);
  TT_CHECK(block[size - 1] == (unsigned char)(pattern ^ 1));
  free(block);
}

static TT_NOINLINE void exact_string(size_t length) {
  char* text = (char*)malloc(length + 1);
  TT_CHECK(text != NULL);
  memset(text, 's', length);
  text[length] = '\0';
  TT_CHECK(strlen(text) == length);
  char* copy = (char*)malloc(length + 1);
  TT_CHECK(copy != NULL);
  strcpy(copy, text);
  TT_CHECK(memcmp(copy, text, length + 1) == 0);
  free(copy);
  free(text);
}

int main(void) {
  for (size_t size = 1; size <= 1100; ++size) exact_size(size, kPatterns[size % 4]);
  for (size_t length = 0; length <= 300; ++length) exact_string(length);
  static const size_t large[] = {65535, 65536, 65537, 131072 + 3, 1048576, 1048576 + 15};
  for (size_t i = 0; i < sizeof(large) / sizeof(large[0]); ++i)
    exact_size(large[i], kPatterns[i % 4]);
  return 0;
}
