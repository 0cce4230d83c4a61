// Double free in a forked child: the report must carry the child's pid (not the parent's,
// which the allocator may have seen first), and the child exits with status 1. The parent
// allocates before forking, announces the child's pid and exits with the child's status.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-PID: noted
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: child_cleanup
#include <string.h>
#include <sys/wait.h>

#include "tally_test.h"

static TT_NOINLINE void child_cleanup(char* request) {
  free(request);
}

static TT_NOINLINE void serve_in_child(void) {
  char* request = (char*)malloc(128);
  TT_CHECK(request != NULL);
  strcpy(request, "GET / HTTP/1.0");
  child_cleanup(request);
  tt_note_bad_free(request, request, 128);
  child_cleanup(request);
  tt_survived();
  exit(0);
}

int main(void) {
  char* parent_state = (char*)malloc(256); /* the parent uses the allocator first */
  TT_CHECK(parent_state != NULL);
  memset(parent_state, 0, 256);
  pid_t child = fork();
  TT_CHECK(child >= 0);
  if (child == 0) serve_in_child();
  tt_note_report_pid((long)child);
  int status = 0;
  TT_CHECK(waitpid(child, &status, 0) == child);
  free(parent_state);
  if (!WIFEXITED(status)) {
    tt_say("TALLY-TEST: FAIL: child did not exit normally (status 0x%x)", status);
    return 2;
  }
  return WEXITSTATUS(status);
}
