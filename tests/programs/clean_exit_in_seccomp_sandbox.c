// A sandboxed process, shaped like sshd's pre-login child: after start-up it installs a
// seccomp filter that refuses openat (EACCES) and kills the process (SIGSYS) for a
// change of a signal's handler, a new thread or process, a socket pair; then it works and
// exits. tally must make none of those calls on its behalf, at exit either: the checks at
// exit (leaks, canaries) stop no thread in a process that has one, so they install no
// handler, and in a sandbox the leak check starts no marking threads. Before, sshd's
// logins failed in debug mode, with no report. Big buffers, partly used, are freed inside
// the sandbox too: debug mode (with guard pages only for small blocks, as when its time
// budget for them is spent) asked mincore which of their pages were in memory, a call
// sshd's filter does not list, and its pre-login child died of SIGSYS under load.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-OPTIONS[mode=fast,safe]: leaks=1:canaries_at_exit=1
// TALLY-OPTIONS[mode=debug]: guard_max_size=4096
// TALLY-EXPECT-REGEX: ^TALLY-TEST: survived$
#include <string.h>

#include "seccomp_sandbox.h"
#include "tally_test.h"

int main(void) {
  // Blocks kept across the sandbox's start, the way a forked child inherits its parent's.
  static char* kept[64];
  for (int i = 0; i < 64; ++i) {
    kept[i] = (char*)malloc(16 + (size_t)i * 40);
    TT_CHECK(kept[i] != NULL);
    memset(kept[i], 'k', 16 + (size_t)i * 40);
  }
  TT_CHECK(enter_sshd_like_sandbox() == 0);
  for (int round = 0; round < 1000; ++round) {
    size_t size = 8 + (size_t)(round % 200) * 24;
    char* block = (char*)malloc(size);
    TT_CHECK(block != NULL);
    memset(block, 'w', size);
    free(block);
  }
  for (int round = 0; round < 40; ++round) {
    size_t size = (size_t)(48 + round * 8) << 10;
    char* buffer = (char*)malloc(size);
    TT_CHECK(buffer != NULL);
    memset(buffer, 'b', 4096);  // the first page only: the rest stays out of memory
    free(buffer);
  }
  for (int i = 0; i < 64; ++i) free(kept[i]);
  tt_survived();
  return 0;
}
