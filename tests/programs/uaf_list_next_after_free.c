// Use after free, read: the classic list teardown that reads node->next after free(node).
// fast mode reads the stale pointer (tally keeps its books out of the block) and the
// loop works by luck. safe mode poisons the freed node, so the stale next pointer becomes
// a non-canonical address and the next free of it is reported as a bad free (or, if the
// node was a sampled guarded one, the read itself is caught). debug mode and ASan catch
// the read.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: bad-free|heap-use-after-free
// TALLY-EXPECT-ACCESS[mode=debug,asan]: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: free_list
// TALLY-EXPECT-FREE-FRAME: free_list
// TALLY-EXPECT-ALLOC-FRAME: push_front
/* The misuse is deliberate: keep gcc's compile-time use-after-free check quiet. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
#include <string.h>

#include "tally_test.h"

struct node {
  int value;
  char name[20];
  struct node* next;
};

static TT_NOINLINE struct node* push_front(struct node* head, int value) {
  struct node* node = (struct node*)malloc(sizeof(struct node));
  TT_CHECK(node != NULL);
  node->value = value;
  memcpy(node->name, "node", 5);
  node->next = head;
  return node;
}

static TT_NOINLINE void free_list(struct node* head) {
  for (struct node* node = head; node != NULL; node = node->next) {
    tt_note_bad_access(&node->next, sizeof(node->next), node, sizeof(struct node));
    free(node); /* node->next is read after this, by the loop */
  }
}

int main(void) {
  struct node* list = NULL;
  for (int i = 0; i < 5; ++i) list = push_front(list, i);
  free_list(list);
  return 0;
}
