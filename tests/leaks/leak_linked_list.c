/* A linked list whose head is dropped: the head is the direct leak, the other nine nodes
 * are indirect (only leaked blocks point to them). */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 32 1 build_list
// LEAK-EXPECT: indirect 288 9 build_list
#include "leak_test.h"

struct node {
  struct node* next;
  char payload[24];
};

static LT_NOINLINE struct node* build_list(int count) {
  struct node* head = NULL;
  for (int i = 0; i < count; ++i) {
    struct node* node = malloc(sizeof *node);
    memset(node->payload, i, sizeof node->payload);
    node->next = head;
    head = node;
  }
  return head;
}

int main(void) {
  build_list(10);
  lt_scrub_stack();
  return lt_finish();
}
