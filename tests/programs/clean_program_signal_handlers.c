// Clean: a program's own SIGSEGV handling keeps working under tally in every mode.
//  - A child that raises SIGSEGV before the program touched its disposition dies of it.
//    (safe and debug mode took a raised SIGSEGV for a fault, reported it as a SEGV at the
//    sender's pid, and let the process go on.)
//  - A handler set with signal() is what sigaction() reads back, and a fault outside the
//    heap (a probe of an unmapped address, as conservative collectors and unwinders do)
//    reaches it; it jumps back out with siglongjmp.
//  - The previous disposition, put back, reads back too.
//  - A SIGSEGV the program raises itself while ignoring it is ignored; raised with the
//    default action, it ends the process with SIGSEGV.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: SIGSEGV
// ASAN-KNOWN-ISSUE: ASan (LLVM 14) takes a raised SIGSEGV for a fault, exits 1
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tally_test.h"

static sigjmp_buf g_probe;
static volatile sig_atomic_t g_faults;

static void probe_handler(int signal_number) {
  (void)signal_number;
  ++g_faults;
  siglongjmp(g_probe, 1);
}

static TT_NOINLINE int readable(const volatile char* address) {
  if (sigsetjmp(g_probe, 1) != 0) return 0;
  (void)*address;
  return 1;
}

int main(void) {
  pid_t child = fork();
  TT_CHECK(child >= 0);
  if (child == 0) {
    free(malloc(32));
    raise(SIGSEGV);
    _exit(0);
  }
  int status = 0;
  TT_CHECK(waitpid(child, &status, 0) == child);
  TT_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);

  struct sigaction before;
  TT_CHECK(sigaction(SIGSEGV, NULL, &before) == 0);
  TT_CHECK(signal(SIGSEGV, probe_handler) != SIG_ERR);
  struct sigaction now;
  TT_CHECK(sigaction(SIGSEGV, NULL, &now) == 0);
  TT_CHECK(!(now.sa_flags & SA_SIGINFO) && now.sa_handler == probe_handler);

  char* block = (char*)malloc(64);
  TT_CHECK(block != NULL);
  memset(block, 1, 64);
  TT_CHECK(readable(block) == 1);
  TT_CHECK(readable((const char*)16) == 0);
  TT_CHECK(readable((const char*)16) == 0);
  TT_CHECK(g_faults == 2);
  free(block);

  TT_CHECK(sigaction(SIGSEGV, &before, NULL) == 0);
  TT_CHECK(sigaction(SIGSEGV, NULL, &now) == 0);
  TT_CHECK(now.sa_handler == before.sa_handler);

  TT_CHECK(signal(SIGSEGV, SIG_IGN) != SIG_ERR);
  raise(SIGSEGV);
  TT_CHECK(signal(SIGSEGV, SIG_DFL) == SIG_IGN);
  tt_say("raising SIGSEGV with its default action\n");
  raise(SIGSEGV);
  TT_FAIL("survived a raised SIGSEGV");
  return 0;
}
