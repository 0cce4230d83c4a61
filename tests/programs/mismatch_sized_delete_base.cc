// Sized delete of the wrong size: a message queue deletes a derived message through a
// pointer to its base, which has no virtual destructor. The compiler's sized operator
// delete is told sizeof(Message) while new was asked for sizeof(TimedMessage): undefined
// behaviour that works with most allocators and corrupts size-segregated ones (and skips
// the derived destructor). Checked in debug mode, like ASan's new-delete-type-mismatch.
// TALLY-EXPECT-KIND: new-delete-type-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: drop_message
// TALLY-EXPECT-ALLOC-FRAME: make_timed_message
#include <cstdint>
#include <cstring>

#include "tally_test.h"

namespace {

struct Message {
  uint32_t kind;
  uint32_t length;
  char text[24];
};

struct TimedMessage : Message {
  uint64_t sent_at;
  uint64_t deadline;
  uint64_t retries[4];
};

TT_NOINLINE Message* make_timed_message(const char* text) {
  TimedMessage* message = new TimedMessage();
  message->kind = 2;
  message->length = static_cast<uint32_t>(std::strlen(text));
  std::strncpy(message->text, text, sizeof message->text - 1);
  message->sent_at = 1000;
  message->deadline = 5000;
  return message;
}

TT_NOINLINE void drop_message(Message* message) {
  tt_note_bad_free(message, message, sizeof(TimedMessage));
  delete message;  // Message has no virtual destructor: sized delete of sizeof(Message)
}

}  // namespace

int main() {
  Message* message = make_timed_message("flush the cache");
  TT_CHECK(message->kind == 2);
  drop_message(message);
  tt_survived();
  return 0;
}
