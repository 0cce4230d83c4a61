// Mismatched deallocation, new / free: a C++ object is handed to a C-style callback
// registry whose destructor callback is plain free().
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: registry_clear
// TALLY-EXPECT-ALLOC-FRAME: make_listener
#include <cstdlib>

#include "tally_test.h"

namespace {

struct Listener {
  int fd = -1;
  unsigned events = 0;
  long backlog = 128;
};

struct Registry {
  void* items[4] = {};
  void (*destroy)(void*) = std::free;  // the C convention of the registry
  int count = 0;
};

TT_NOINLINE Listener* make_listener(int fd) {
  Listener* listener = new Listener();
  listener->fd = fd;
  return listener;
}

TT_NOINLINE void registry_clear(Registry* registry) {
  for (int i = 0; i < registry->count; ++i) {
    tt_note_bad_free(registry->items[i], registry->items[i], sizeof(Listener));
    registry->destroy(registry->items[i]);
  }
  registry->count = 0;
}

}  // namespace

int main() {
  Registry registry;
  registry.items[registry.count++] = make_listener(5);
  registry_clear(&registry);
  tt_survived();
  return 0;
}
