// Clean: a program that replaces only half of the C++ allocation functions, on top of
// malloc and free: its own operator new (so `new T` reaches tally as malloc) and its own
// operator delete[] (so `delete[]` reaches tally as free), while delete and new[] stay
// tally's. Each block is still freed the way it was allocated, as the C++ runtime pairs
// them (its operator new is malloc, its operator delete is free), so there is no mismatch
// to report. The same happens when a library carries a private copy of the C++ runtime
// (rust's libLLVM: its operator new, called from inside the library, takes malloc, while
// the linker's delete binds to tally's): debug mode reported a false
// alloc-dealloc-mismatch on every such block.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// ASAN-EXPECT-KIND: alloc-dealloc-mismatch
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "tally_test.h"

void* operator new(std::size_t size) {
  for (;;) {
    if (void* block = std::malloc(size ? size : 1)) return block;
    std::new_handler handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}

void operator delete[](void* block) noexcept {
  std::free(block);
}
void operator delete[](void* block, std::size_t) noexcept {
  std::free(block);
}

namespace {

struct Node {
  std::string name;
  int value;
};

}  // namespace

int main() {
  // new (ours: malloc) with tally's delete, unsized and sized.
  for (int i = 0; i < 1000; ++i) {
    Node* node = new Node{"a node with a name too long for the short-string buffer", i};
    tt_consume(static_cast<unsigned long>(node->value));
    delete node;
    int* number = new int(i);
    tt_consume(static_cast<unsigned long>(*number));
    delete number;
  }
  // new[] (tally's) with delete[] (ours: free), with and without an array cookie.
  for (int i = 1; i < 200; ++i) {
    char* bytes = new char[i];
    bytes[i - 1] = 1;
    tt_consume(bytes[i - 1]);
    delete[] bytes;
    Node* nodes = new Node[i % 7 + 1];
    tt_consume(nodes[0].name.size());
    delete[] nodes;
  }
  // And through the standard library, which uses the plain forms.
  std::map<std::string, std::vector<int>> table;
  for (int i = 0; i < 2000; ++i) table["key number " + std::to_string(i)].push_back(i);
  std::unique_ptr<Node> owned = std::make_unique<Node>();
  owned->value = static_cast<int>(table.size());
  tt_say("%d entries", owned->value);
  return 0;
}
