// Use after free, read, inside the C++ library: a loop over a std::map erases the current
// entry and then increments the erased iterator, whose node map::erase has just freed;
// std::_Rb_tree_increment (libstdc++) reads the freed node's links. debug mode catches the
// read (the freed node's page is inaccessible). In safe mode the freed node is poisoned, so
// at the default sampling rate the increment follows a poisoned link and the program dies
// of a SEGV (tally's SEGV report, with a hint at the poison), which is not a kind of the
// runner: safe mode runs with sample_rate=1, every block before a guard page, so that the
// read itself is caught there too. fast mode reads the stale links and goes on.
// AddressSanitizer misses it: the read is in libstdc++, which is not instrumented.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=1
// TALLY-EXPECT[mode=fast]: none
// ASAN-EXPECT-KIND: none
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: expire_sessions
// TALLY-EXPECT-FREE-FRAME: expire_sessions
// TALLY-EXPECT-ALLOC-FRAME: open_sessions
#include <map>
#include <string>

#include "tally_test.h"

namespace {

struct Session {
  long deadline;
  char user[24];
};

using SessionTable = std::map<int, Session>;

// The node of a std::map of Session: the tree's links (colour, parent, left, right) and
// the value, which the announcement needs to know the block's size.
constexpr size_t kNodeBytes = 32 + sizeof(std::pair<const int, Session>);

TT_NOINLINE void open_sessions(SessionTable& sessions) {
  for (int id = 1; id <= 6; ++id) sessions[id] = Session{id * 10L, "user"};
}

TT_NOINLINE int expire_sessions(SessionTable& sessions, long now) {
  int expired = 0;
  for (SessionTable::iterator it = sessions.begin(); it != sessions.end(); ++it) {
    if (it->second.deadline < now) {
      const char* node = reinterpret_cast<const char*>(&*it) - 32;
      sessions.erase(it);  // frees the node; the loop's ++it then reads its links
      ++expired;
      tt_note_bad_access(node, 32, node, kNodeBytes);
    }
  }
  tt_after_bad_access();
  return expired;
}

}  // namespace

int main() {
  SessionTable sessions;
  open_sessions(sessions);
  tt_consume(static_cast<unsigned long>(expire_sessions(sessions, 15)));
  return 0;
}
