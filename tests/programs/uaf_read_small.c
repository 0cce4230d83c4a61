// Use after free, read, small block: the logout path ends (frees) the session, and the
// audit hook that runs afterwards still reads the user id through its stale pointer.
// A read changes nothing, so only a caught access reports it: debug mode (the freed
// block's page is inaccessible), a sampled guard page in safe mode, ASan. fast mode reads
// stale bytes and goes on.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: audit_logout
// TALLY-EXPECT-FREE-FRAME: end_session
// TALLY-EXPECT-ALLOC-FRAME: start_session
#include <string.h>

#include "tally_test.h"

struct session {
  unsigned long id;
  unsigned user_id;
  unsigned flags;
  char user_name[32];
};

static TT_NOINLINE struct session* start_session(unsigned user_id, const char* name) {
  struct session* session = (struct session*)malloc(sizeof(struct session));
  TT_CHECK(session != NULL);
  session->id = 1000 + user_id;
  session->user_id = user_id;
  session->flags = 0;
  strncpy(session->user_name, name, sizeof(session->user_name) - 1);
  session->user_name[sizeof(session->user_name) - 1] = '\0';
  return session;
}

static TT_NOINLINE void end_session(struct session* session) {
  free(session); /* the caller keeps its pointer for the audit hook */
}

static TT_NOINLINE unsigned audit_logout(const struct session* session) {
  tt_note_bad_access(&session->user_id, sizeof(session->user_id), session, sizeof(struct session));
  unsigned user_id = session->user_id;
  tt_after_bad_access();
  return user_id;
}

int main(void) {
  struct session* session = start_session(42, "ada");
  TT_CHECK(session->user_id == 42);
  end_session(session);
  tt_consume(audit_logout(session));
  return 0;
}
