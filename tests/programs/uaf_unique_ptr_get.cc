// Use after free, write, through a dangling std::unique_ptr::get(): a monitor keeps the
// raw pointer of the server's statistics; resetting the statistics replaces the object
// (the unique_ptr deletes the old one), and the monitor then records an error code into
// the deleted object.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: record_error
// TALLY-EXPECT-FREE-FRAME: reset_statistics
// TALLY-EXPECT-ALLOC-FRAME: open_server
#include <memory>

#include "tally_test.h"

namespace {

struct Statistics {
  long requests = 0;
  long errors = 0;
  int last_error = 0;
};

class Server {
 public:
  Server() : statistics_(std::make_unique<Statistics>()) {}
  Statistics* statistics() { return statistics_.get(); }
  TT_NOINLINE void reset_statistics() { statistics_ = std::make_unique<Statistics>(); }

 private:
  std::unique_ptr<Statistics> statistics_;
};

struct Monitor {
  Statistics* watched = nullptr;  // not an owner
  TT_NOINLINE void record_error(int code) {
    tt_note_bad_access(&watched->last_error, sizeof(watched->last_error), watched,
                       sizeof(Statistics));
    watched->last_error = code;
    tt_after_bad_access();
  }
};

TT_NOINLINE std::unique_ptr<Server> open_server() {
  return std::make_unique<Server>();
}

}  // namespace

int main() {
  std::unique_ptr<Server> server = open_server();
  Monitor monitor;
  monitor.watched = server->statistics();
  server->statistics()->requests = 10;
  server->reset_statistics();  // deletes the object the monitor watches
  monitor.record_error(503);
  return 0;
}
