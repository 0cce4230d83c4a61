/* A leak in a sandboxed process, shaped like sshd's pre-login child: a seccomp filter that
 * refuses openat (EACCES) and kills the process (SIGSYS) for a new thread or process, a
 * socket pair, a change of a signal's handler and the other calls that
 * tests/programs/seccomp_sandbox.h lists. The leak check at exit marks on the calling
 * thread alone and reports without symbolizing (that would look for llvm-symbolizer and
 * start it over a socket pair): one direct leak, its frames as module+offset, and the leak
 * exit status, where before the process was killed at its exit with no report. In fast
 * mode the check's walk of the exiting thread's stack is the process's first, so it finds
 * the stack's bounds then: without getrlimit in a sandbox. */
// LEAK-MODES: debug fast
// LEAK-OPTIONS[mode=fast]: leaks=1
// LEAK-REPORT-TO: stderr
// LEAK-EXPECT: direct 40 1
// LEAK-EXPECT[mode=fast]: direct 48 1
// LEAK-EXPECT-REGEX[mode=debug]: #0 0x[0-9a-f]+ \(\S+leak_in_seccomp_sandbox\+0x[0-9a-f]+\)
#include "../programs/seccomp_sandbox.h"
#include "leak_test.h"

static LT_NOINLINE char* make_session_key(size_t size) {
  char* key = malloc(size);
  memset(key, 'k', size);
  return key;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* stdout's buffer comes before the sandbox */
  printf("entering the sandbox\n");
  if (enter_sshd_like_sandbox() != 0) {
    printf("TALLY-LEAK-TEST: FAIL no sandbox\n");
    return 3;
  }
  make_session_key(40); /* the result is dropped */
  lt_scrub_stack();
  return lt_finish();
}
