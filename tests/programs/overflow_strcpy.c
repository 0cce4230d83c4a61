// Heap buffer overflow, write, strcpy of a too-long string: the host name buffer holds 24
// characters and a terminator, and a 40-character name from the configuration is copied in
// with strcpy. In debug mode the copy reaches the guard page inside strcpy; in safe mode the
// canary is damaged and the free reports it. In safe mode sampling is off: the test is of
// the canary check (no sampled guard page may catch the write first).
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located \d+ bytes to the right of 25-byte region
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: set_host_name
// TALLY-EXPECT-ACCESS-FRAME: configure_endpoint
// TALLY-EXPECT-ALLOC-FRAME: new_endpoint
#include <string.h>

#include "tally_test.h"

#define HOST_NAME_MAX_LENGTH 24

struct endpoint {
  char* host;
  int port;
};

static TT_NOINLINE void new_endpoint(struct endpoint* endpoint) {
  endpoint->host = (char*)malloc(HOST_NAME_MAX_LENGTH + 1);
  TT_CHECK(endpoint->host != NULL);
  endpoint->host[0] = '\0';
  endpoint->port = 0;
}

static TT_NOINLINE void set_host_name(struct endpoint* endpoint, const char* name) {
  size_t length = strlen(name);
  tt_note_bad_access(endpoint->host + HOST_NAME_MAX_LENGTH + 1,
                     length + 1 - (HOST_NAME_MAX_LENGTH + 1), endpoint->host,
                     HOST_NAME_MAX_LENGTH + 1);
  strcpy(endpoint->host, name); /* no length check */
  tt_after_bad_access();
}

static TT_NOINLINE int configure_endpoint(const char* name, int port) {
  struct endpoint endpoint;
  new_endpoint(&endpoint);
  set_host_name(&endpoint, name);
  endpoint.port = port;
  int ok = endpoint.host[0] != '\0';
  free(endpoint.host);
  return ok;
}

int main(void) {
  const char* name = "replica-07.storage.eu-west.example.net";
  TT_PRECONDITION(strlen(name) > HOST_NAME_MAX_LENGTH + 8);
  TT_CHECK(configure_endpoint(name, 6379) == 1);
  return 0;
}
