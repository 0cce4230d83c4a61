// `delete` of a stack object (C++): a helper takes ownership of a widget by pointer and
// deletes it, but the caller passed the address of a local.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: dispose_widget
// TALLY-EXPECT-FRAME: render_frame
#include <cstring>

#include "tally_test.h"

namespace {

class Widget {
 public:
  explicit Widget(const char* title) { std::strncpy(title_, title, sizeof(title_) - 1); }
  ~Widget() { visible_ = false; }  // harmless on a stack object
  bool visible() const { return visible_; }

 private:
  char title_[40] = {};
  bool visible_ = true;
};

TT_NOINLINE void dispose_widget(Widget* widget) {
  delete widget;
}

TT_NOINLINE bool render_frame() {
  Widget local("status bar");
  bool shown = local.visible();
  Widget* handle = &local;
  tt_note_bad_free(handle, nullptr, 0);
  dispose_widget(handle);
  tt_survived();
  return shown;
}

}  // namespace

int main() {
  Widget* heap_widget = new Widget("heap");  // the allocator is in use
  bool shown = render_frame();
  delete heap_widget;
  return shown ? 0 : 2;
}
