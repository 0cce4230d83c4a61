/* A sandbox shaped like sshd's pre-login child's, for the programs (here and in
 * tests/leaks) that check what tally does inside one: a seccomp filter that refuses openat
 * (EACCES, as sshd's does) and kills the process (SIGSYS) for each of the other calls a
 * sandbox may not list and that tally made before it knew about sandboxes (at exit, and
 * mincore on debug mode's frees of big buffers, which sshd's filter does not list). Only
 * the calling thread (and threads it creates later) is filtered. Returns 0, or -1 if the
 * kernel refused the filter. */
#ifndef TALLY_TESTS_SECCOMP_SANDBOX_H
#define TALLY_TESTS_SECCOMP_SANDBOX_H

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static inline int enter_sshd_like_sandbox(void) {
#define KILL_ON(call)                                     \
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
      KILL_ON(mincore),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
#undef KILL_ON
  struct sock_fprog program = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0 ? 0 : -1;
}

#endif
