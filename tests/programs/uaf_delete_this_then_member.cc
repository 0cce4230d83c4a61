// Use after free, write, after `delete this`: a reference-counted subscription deletes
// itself in release() when the last reference goes, and release() then goes on to record
// its new state in a member of the object it has just deleted (a plain store). Freed and
// written in the same member function. debug mode catches the write (the freed block's
// page is inaccessible); safe mode finds the damaged poison when the block leaves the
// quarantine (here at exit), or the write itself if the block was a sampled guarded one;
// fast mode writes into the freed block unseen.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: release
// TALLY-EXPECT-FREE-FRAME: release
// TALLY-EXPECT-ALLOC-FRAME: subscribe
/* The use after free below is the point of the test: keep gcc quiet about it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
#include <cstring>

#include "tally_test.h"

namespace {

enum class SubscriptionState : int { kActive = 1, kReleased = 2 };

class Subscription {
 public:
  explicit Subscription(const char* topic) { std::strncpy(topic_, topic, sizeof(topic_) - 1); }
  virtual ~Subscription() = default;

  TT_NOINLINE void retain() { ++references_; }

  TT_NOINLINE int release() {
    int left = --references_;
    bool deleted = left == 0;
    if (deleted) {
      delete this;
      tt_note_bad_access(&state_, sizeof(state_), this, sizeof(Subscription));
    }
    // A member of the deleted object when the count reached zero.
    state_ = deleted ? SubscriptionState::kReleased : SubscriptionState::kActive;
    if (deleted) tt_after_bad_access();
    return left;
  }

 private:
  int references_ = 1;
  SubscriptionState state_ = SubscriptionState::kActive;
  char topic_[48] = {};
};

TT_NOINLINE Subscription* subscribe(const char* topic) {
  return new Subscription(topic);
}

}  // namespace

int main() {
  Subscription* subscription = subscribe("sensors/room-12/temperature");
  subscription->retain();  // a second owner
  TT_CHECK(subscription->release() == 1);
  TT_CHECK(subscription->release() == 0);
  return 0;
}
