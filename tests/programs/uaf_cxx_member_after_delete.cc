// Use after free, write, through a member function called on a deleted object: a
// connection is closed (deleted) by the server, but a timer armed earlier still fires and
// its callback sets the connection's state.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: on_timeout
// TALLY-EXPECT-FREE-FRAME: close_connection
// TALLY-EXPECT-ALLOC-FRAME: accept_connection
#include <cstring>

#include "tally_test.h"

namespace {

enum class ConnectionState : int { kOpen = 1, kTimedOut = 3 };

class Connection {
 public:
  explicit Connection(int descriptor) : descriptor_(descriptor) {
    std::strncpy(peer_, "192.0.2.10:5432", sizeof(peer_) - 1);
  }
  int descriptor() const { return descriptor_; }
  TT_NOINLINE void on_timeout() {
    tt_note_bad_access(&state_, sizeof(state_), this, sizeof(Connection));
    state_ = ConnectionState::kTimedOut;
    tt_after_bad_access();
  }

 private:
  int descriptor_;
  ConnectionState state_ = ConnectionState::kOpen;
  char peer_[40] = {};
};

struct Timer {
  Connection* target = nullptr;
  void arm(Connection* connection) { target = connection; }
  TT_NOINLINE void fire() { target->on_timeout(); }
};

TT_NOINLINE Connection* accept_connection(int descriptor) {
  return new Connection(descriptor);
}

TT_NOINLINE void close_connection(Connection* connection) {
  delete connection;
}

}  // namespace

int main() {
  Connection* connection = accept_connection(9);
  TT_CHECK(connection->descriptor() == 9);
  Timer idle_timer;
  idle_timer.arm(connection);
  close_connection(connection);  // the timer is not disarmed
  idle_timer.fire();
  return 0;
}
