// Double free inside a worker thread. A first worker (which allocates) runs to completion
// before the second one starts, so the second worker is the third thread to call into the
// allocator: the report must name it T2.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T2
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: close_session
// TALLY-EXPECT-FRAME: session_worker
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tally_test.h"

struct session {
  char user[24];
  char* scratch;
};

static TT_NOINLINE void* logger_worker(void* argument) {
  (void)argument;
  char* line = (char*)malloc(80);
  TT_CHECK(line != NULL);
  snprintf(line, 80, "logger up");
  free(line);
  return NULL;
}

static TT_NOINLINE void close_session(struct session* session) {
  free(session->scratch);
}

static TT_NOINLINE void* session_worker(void* argument) {
  (void)argument;
  struct session session;
  strcpy(session.user, "grace");
  session.scratch = (char*)malloc(72);
  TT_CHECK(session.scratch != NULL);
  memset(session.scratch, 0, 72);
  close_session(&session);
  tt_note_bad_free(session.scratch, session.scratch, 72);
  close_session(&session); /* error path closes it again */
  tt_survived();
  return NULL;
}

int main(void) {
  pthread_t thread;
  TT_CHECK(pthread_create(&thread, NULL, logger_worker, NULL) == 0);
  TT_CHECK(pthread_join(thread, NULL) == 0);
  TT_CHECK(pthread_create(&thread, NULL, session_worker, NULL) == 0);
  TT_CHECK(pthread_join(thread, NULL) == 0);
  return 0;
}
