// `delete` twice (C++): two owners of a raw pointer both close the connection.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: close_connection
#include <cstring>

#include "tally_test.h"

namespace {

// Trivially destructible on purpose: the second delete goes straight to operator delete
// without running a destructor over freed memory (which would be a different bug).
struct Connection {
  int descriptor;
  char peer[48];
  unsigned long bytes_sent;
};

TT_NOINLINE Connection* open_connection(const char* peer) {
  Connection* connection = new Connection();
  connection->descriptor = 3;
  std::strncpy(connection->peer, peer, sizeof(connection->peer) - 1);
  return connection;
}

TT_NOINLINE void close_connection(Connection* connection) {
  delete connection;
}

struct Client {
  Connection* connection;
  ~Client() { close_connection(connection); }
};

}  // namespace

int main() {
  Connection* connection = open_connection("10.0.0.1:443");
  {
    Client client{connection};
    client.connection->bytes_sent = 1024;
  }  // the client closed it...
  tt_note_bad_free(connection, connection, sizeof(Connection));
  close_connection(connection);  // ...and so does main
  tt_survived();
  return 0;
}
