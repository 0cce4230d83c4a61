/* A sandboxed process with two threads: the main thread enters a seccomp filter that
 * refuses openat (as sshd's does), while the other thread holds the only pointer to a
 * block on its stack. Stopping the world needs the list of threads in /proc/self/task;
 * refused it, the check at exit must not run with the other thread unscanned (its block
 * would be reported as leaked): it says it did not run, and reports nothing. */
// LEAK-MODES: debug
// LEAK-REPORT-TO: stderr
// LEAK-EXPECT: none
// LEAK-EXPECT-REGEX: WARNING: tally: the leak check did not run
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "leak_test.h"

static int g_holding[2]; /* the holder says it holds the block */
static int g_release[2]; /* never written: the holder waits until the process ends */

static void* hold_block(void* unused) {
  (void)unused;
  char* volatile block = malloc(72);
  memset(block, 'h', 72);
  char ready = 1;
  if (write(g_holding[1], &ready, 1) != 1) lt_failures++;
  char never;
  if (read(g_release[0], &never, 1) < 0) lt_failures++;
  return block;
}

static void enter_sandbox(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    printf("TALLY-LEAK-TEST: FAIL no sandbox\n");
    exit(3);
  }
}

int main(void) {
  if (pipe(g_holding) != 0 || pipe(g_release) != 0) return 3;
  pthread_t holder;
  if (pthread_create(&holder, NULL, hold_block, NULL) != 0) return 3;
  char ready;
  if (read(g_holding[0], &ready, 1) != 1) return 3;
  enter_sandbox();
  lt_scrub_stack();
  return lt_finish();
}
