/* A program that lists its open descriptors sees only its own. With output due at exit
 * (the leak check, statistics), tally kept a copy of stderr from the start, descriptor 200,
 * for a program that closes stderr before the check at exit; python's test_subprocess, which
 * counts the descriptors a child inherits, found it. The copy is now taken when the program
 * closes descriptor 2 (close and fclose are wrapped): here the report must still reach the
 * stderr that fclose closed (the runner reads it there), and nothing leaks but the one block. */
// LEAK-MODES: debug fast
// LEAK-OPTIONS[mode=fast]: leaks=1:alloc_stacks=1
// LEAK-REPORT-TO: stderr
// LEAK-EXPECT: direct 48 1 make_lost_block
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "leak_test.h"

static LT_NOINLINE void* make_lost_block(void) {
  return malloc(48);
}

static void close_stderr_at_exit(void) {
  fflush(stdout);
  fclose(stderr);
}

int main(void) {
  DIR* listing = opendir("/proc/self/fd");
  LT_EXPECT(listing != NULL);
  int own = listing ? dirfd(listing) : -1;
  struct dirent* entry;
  while (listing && (entry = readdir(listing)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    int fd = atoi(entry->d_name);
    if (fd > 2 && fd != own) {
      printf("descriptor %d is open and is not the program's\n", fd);
      LT_EXPECT(fd <= 2 || fd == own);
    }
  }
  if (listing) closedir(listing);
  void* volatile lost = make_lost_block();
  LT_EXPECT(lost != NULL);
  lost = NULL;
  atexit(close_stderr_at_exit);
  lt_scrub_stack();
  return lt_finish();
}
