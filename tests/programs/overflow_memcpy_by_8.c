// Heap buffer overflow, write, memcpy overrun by 8 bytes: a settings record grew from
// 100 to 108 bytes in version 2, and the store still allocates the version-1 size before
// copying the whole new record. The 8 bytes land in the block's slack: safe mode's canary
// (and debug mode's) sees them when the record is released; ASan catches the copy.
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 100-byte region
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: store_settings
// TALLY-EXPECT-ACCESS-FRAME: apply_settings
// TALLY-EXPECT-ALLOC-FRAME: store_settings
#include <string.h>

#include "tally_test.h"

#define SETTINGS_V1_BYTES 100

struct settings_v2 {
  char theme[32];
  char language[16];
  int font_size;
  int flags;
  char home[44];
  char region[8]; /* new in version 2 */
};

static TT_NOINLINE void* store_settings(const void* settings, size_t length) {
  char* stored = (char*)malloc(SETTINGS_V1_BYTES); /* the version-1 size */
  TT_CHECK(stored != NULL);
  tt_note_bad_access(stored + SETTINGS_V1_BYTES, length - SETTINGS_V1_BYTES, stored,
                     SETTINGS_V1_BYTES);
  memcpy(stored, settings, length); /* 108 bytes into 100 */
  tt_after_bad_access();
  return stored;
}

static TT_NOINLINE void release_settings(void* stored) {
  free(stored);
}

static TT_NOINLINE int apply_settings(const struct settings_v2* settings) {
  void* stored = store_settings(settings, sizeof(*settings));
  int size = ((const struct settings_v2*)stored)->font_size;
  release_settings(stored);
  return size;
}

int main(void) {
  TT_PRECONDITION(sizeof(struct settings_v2) == 108);
  struct settings_v2 settings;
  memset(&settings, 0, sizeof(settings));
  strcpy(settings.theme, "solarized-dark");
  strcpy(settings.language, "en-GB");
  settings.font_size = 13;
  strcpy(settings.home, "/home/ada");
  memcpy(settings.region, "EUROPE-W", 8);
  TT_CHECK(apply_settings(&settings) == 13);
  return 0;
}
