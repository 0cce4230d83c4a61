// A binary tree of 15 nodes made with new (at one call site), whose root is dropped: the
// root is the direct leak, the 14 other nodes indirect.
// LEAK-MODES: debug
// LEAK-EXPECT: direct 32 1 make_tree
// LEAK-EXPECT: indirect 448 14 make_tree
#include "leak_test.h"

namespace {

struct Node {
  Node* left;
  Node* right;
  long key;
  long value;
};

LT_NOINLINE Node* make_node(long key) {
  return new Node{nullptr, nullptr, key, key * 3};
}

// Heap order: node i has children 2i+1 and 2i+2.
LT_NOINLINE Node* make_tree(int count) {
  Node* nodes[15];
  for (int i = 0; i < count; ++i) nodes[i] = make_node(i);
  for (int i = 0; 2 * i + 2 < count; ++i) {
    nodes[i]->left = nodes[2 * i + 1];
    nodes[i]->right = nodes[2 * i + 2];
  }
  Node* root = nodes[0];
  for (Node*& node : nodes) node = nullptr;
  return root;
}

}  // namespace

int main() {
  make_tree(15);
  lt_scrub_stack();
  return lt_finish();
}
