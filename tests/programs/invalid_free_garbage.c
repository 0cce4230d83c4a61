// Free of a garbage integer cast to a pointer (an uninitialised-looking field). The address
// is not mapped: the allocator must decide without touching it.
// ASan cannot report this one: it dereferences its chunk header below the pointer and dies
// with SEGV inside its free.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: destroy_node
// ASAN-EXPECT-KIND: SEGV
#include "tally_test.h"

struct node {
  int key;
  void* payload;
};

static TT_NOINLINE void destroy_node(struct node* node) {
  free(node->payload);
}

int main(void) {
  struct node node;
  node.key = 1;
  node.payload = (void*)(uintptr_t)0x12345678u; /* garbage left in the field */
  tt_note_bad_free(node.payload, NULL, 0);
  destroy_node(&node);
  tt_survived();
  return 0;
}
