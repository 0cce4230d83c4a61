/* A ring of three nodes that nothing outside points to: every node is pointed to by a
 * leaked one, so one of them (the lowest in memory) is named the direct leak and the two
 * others indirect, and the leak is never lost as "indirect only". */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 48 1 make_ring
// LEAK-EXPECT: indirect 96 2 make_ring
#include "leak_test.h"

struct ring {
  struct ring* next;
  char payload[40];
};

static LT_NOINLINE void make_ring(void) {
  struct ring* nodes[3];
  for (int i = 0; i < 3; ++i) nodes[i] = malloc(sizeof(struct ring));
  for (int i = 0; i < 3; ++i) nodes[i]->next = nodes[(i + 1) % 3];
  memset(nodes, 0, sizeof nodes);
}

int main(void) {
  make_ring();
  lt_scrub_stack();
  return lt_finish();
}
