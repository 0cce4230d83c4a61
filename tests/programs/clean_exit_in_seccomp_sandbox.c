// A sandboxed process, shaped like sshd's pre-login child: after start-up it installs a
// seccomp filter that refuses openat (EACCES) and kills the process (SIGSYS) for a
// change of a signal's handler, a new thread or process, a socket pair; then it works and
// exits. tally must make none of those calls on its behalf, at exit either: the checks at
// exit (leaks, canaries) stop no thread in a process that has one, so they install no
// handler, and in a sandbox the leak check starts no marking threads. Before, sshd's
// logins failed in debug mode, with no report.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-OPTIONS[mode=fast,safe]: leaks=1:canaries_at_exit=1
// TALLY-EXPECT-REGEX: ^TALLY-TEST: survived$
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "tally_test.h"

static void enter_sandbox(void) {
  /* Refuses openat, as sshd's sandbox does; kills the process for the other calls a
   * sandbox may not list, which tally made at exit before. */
#define KILL_ON(call)                                      \
  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_##call, 0, 1), \
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
      KILL_ON(rt_sigaction),
      KILL_ON(clone),
      KILL_ON(clone3),
      KILL_ON(fork),
      KILL_ON(execve),
      KILL_ON(socketpair),
      KILL_ON(prlimit64),
      KILL_ON(readlink),
      KILL_ON(access),
      KILL_ON(sched_getaffinity),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
#undef KILL_ON
  struct sock_fprog program = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
  TT_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
  TT_CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0);
}

int main(void) {
  // Blocks kept across the sandbox's start, the way a forked child inherits its parent's.
  static char* kept[64];
  for (int i = 0; i < 64; ++i) {
    kept[i] = (char*)malloc(16 + (size_t)i * 40);
    TT_CHECK(kept[i] != NULL);
    memset(kept[i], 'k', 16 + (size_t)i * 40);
  }
  enter_sandbox();
  for (int round = 0; round < 1000; ++round) {
    size_t size = 8 + (size_t)(round % 200) * 24;
    char* block = (char*)malloc(size);
    TT_CHECK(block != NULL);
    memset(block, 'w', size);
    free(block);
  }
  for (int i = 0; i < 64; ++i) free(kept[i]);
  tt_survived();
  return 0;
}
