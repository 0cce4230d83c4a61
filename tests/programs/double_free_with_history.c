// Double free, reported with the block's history: a request is freed by the error path
// and again by the connection cleanup. safe and debug mode keep the free and allocation
// stacks, so the report names where it was freed first and where it was allocated.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: cleanup_connection
// TALLY-EXPECT-FREE-FRAME: reject_request
// TALLY-EXPECT-ALLOC-FRAME: parse_request
// TALLY-EXPECT-FREE-THREAD: T0
// TALLY-EXPECT-ALLOC-THREAD: T0
#include <string.h>

#include "tally_test.h"

#define REQUEST_BYTES 88

struct request {
  char method[8];
  char path[76];
  int version;
};

struct connection {
  struct request* request;
  int status;
};

static TT_NOINLINE struct request* parse_request(const char* line) {
  struct request* request = (struct request*)malloc(REQUEST_BYTES);
  TT_CHECK(request != NULL);
  memset(request, 0, REQUEST_BYTES);
  memcpy(request->method, line, 3);
  strncpy(request->path, line + 4, sizeof(request->path) - 1);
  request->version = 11;
  return request;
}

static TT_NOINLINE void reject_request(struct connection* connection, int status) {
  connection->status = status;
  free(connection->request); /* the error path frees, but keeps the pointer */
}

static TT_NOINLINE void cleanup_connection(struct connection* connection) {
  free(connection->request);
  connection->request = NULL;
}

int main(void) {
  TT_PRECONDITION(sizeof(struct request) == REQUEST_BYTES);
  struct connection connection = {parse_request("GET /admin HTTP/1.1"), 0};
  reject_request(&connection, 403);
  tt_note_bad_free(connection.request, connection.request, REQUEST_BYTES);
  cleanup_connection(&connection);
  tt_survived();
  return 0;
}
