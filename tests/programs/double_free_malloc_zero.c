// Double free of a zero-size block: malloc(0) returns a unique pointer that must be freed
// exactly once, like any other.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: clear_attributes
#include "tally_test.h"

struct attributes {
  char* data;
  size_t count;
};

static TT_NOINLINE void load_attributes(struct attributes* attributes, size_t count) {
  attributes->count = count;
  attributes->data = (char*)malloc(count); /* count is 0 here: still a real block */
}

static TT_NOINLINE void clear_attributes(struct attributes* attributes) {
  free(attributes->data);
}

int main(void) {
  struct attributes attributes;
  load_attributes(&attributes, 0);
  TT_PRECONDITION(attributes.data != NULL); /* glibc semantics: malloc(0) is a unique block */
  clear_attributes(&attributes);
  tt_note_bad_free(attributes.data, attributes.data, 0);
  clear_attributes(&attributes);
  tt_survived();
  return 0;
}
