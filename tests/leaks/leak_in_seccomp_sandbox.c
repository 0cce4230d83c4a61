/* A leak in a sandboxed process, shaped like sshd's pre-login child: a seccomp filter that
 * refuses openat (EACCES) and kills the process (SIGSYS) for a new thread or process, a
 * socket pair, a change of a signal's handler, and the other calls listed below. The leak
 * check at exit marks on the calling thread alone and reports without symbolizing (that
 * would look for llvm-symbolizer and start it over a socket pair): one direct leak, its
 * frames as module+offset, and the leak exit status, where before the process was killed
 * at its exit with no report. In fast mode the stack that names the leak's group is the
 * first the process captures at exit (its bounds come without getrlimit there). */
// LEAK-MODES: debug fast
// LEAK-OPTIONS[mode=fast]: leaks=1
// LEAK-REPORT-TO: stderr
// LEAK-EXPECT: direct 40 1
// LEAK-EXPECT[mode=fast]: direct 48 1
// LEAK-EXPECT-REGEX[mode=debug]: #0 0x[0-9a-f]+ \(\S+leak_in_seccomp_sandbox\+0x[0-9a-f]+\)
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "leak_test.h"

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
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    printf("TALLY-LEAK-TEST: FAIL no sandbox\n");
    exit(3);
  }
}

static LT_NOINLINE char* make_session_key(size_t size) {
  char* key = malloc(size);
  memset(key, 'k', size);
  return key;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);  /* stdout's buffer comes before the sandbox */
  printf("entering the sandbox\n");
  enter_sandbox();
  make_session_key(40); /* the result is dropped */
  lt_scrub_stack();
  return lt_finish();
}
