// Double delete through two std::shared_ptr made from one raw pointer: the registry is
// given its own shared_ptr of a widget that a shared_ptr already owns, built from the raw
// pointer, so each has its own control block and count. When the first owner goes out of
// scope it deletes the widget; when the registry drops its shared_ptr, the second control
// block deletes it again. Both deletes are in libstdc++'s _Sp_counted_ptr::_M_dispose.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: clear_registry
// TALLY-EXPECT-FREE-FRAME: show_widget
// TALLY-EXPECT-ALLOC-FRAME: make_widget
#include <memory>

#include "tally_test.h"

namespace {

struct Widget {
  int id;
  char name[40];  // a trivial destructor: the bug is only the second delete
};

struct Registry {
  std::shared_ptr<Widget> current;
};

TT_NOINLINE Widget* make_widget(int id) {
  Widget* widget = new Widget();
  widget->id = id;
  return widget;
}

TT_NOINLINE void register_widget(Registry& registry, Widget* widget) {
  registry.current = std::shared_ptr<Widget>(widget);  // a second control block
}

TT_NOINLINE int show_widget(Registry& registry, Widget* raw) {
  std::shared_ptr<Widget> owner(raw);
  register_widget(registry, raw);
  return owner->id;
}  // owner's control block deletes the widget here

TT_NOINLINE void clear_registry(Registry& registry) {
  registry.current.reset();  // the registry's control block deletes it again
}

}  // namespace

int main() {
  Registry registry;
  Widget* raw = make_widget(7);
  TT_CHECK(show_widget(registry, raw) == 7);
  TT_CHECK(registry.current.use_count() == 1);
  tt_note_bad_free(raw, raw, sizeof(Widget));
  clear_registry(registry);
  tt_survived();
  return 0;
}
