// `delete` twice (C++) of an over-aligned object, which goes through the aligned
// operator new/delete (std::align_val_t).
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: retire_counter
#include <cstdint>

#include "tally_test.h"

namespace {

struct alignas(128) PaddedCounter {
  unsigned long value;
  unsigned char padding[120];
};

TT_NOINLINE void retire_counter(PaddedCounter* counter) {
  delete counter;
}

}  // namespace

int main() {
  PaddedCounter* counter = new PaddedCounter();
  TT_CHECK(reinterpret_cast<std::uintptr_t>(counter) % 128 == 0);
  counter->value = 42;
  retire_counter(counter);
  tt_note_bad_free(counter, counter, sizeof(PaddedCounter));
  retire_counter(counter);
  tt_survived();
  return 0;
}
