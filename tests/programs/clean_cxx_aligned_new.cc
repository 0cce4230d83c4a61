// Clean: over-aligned C++ allocation with every matching release: new/delete of
// alignas(64) and alignas(4096) types (the compiler passes the alignment to both),
// new[]/delete[] of them, explicit ::operator new(size, align_val_t) with the matching
// aligned delete (with and without the size), and the nothrow forms. debug mode's
// mismatch checks must accept every one of these pairs.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "tally_test.h"

namespace {

struct alignas(64) CacheLine {
  unsigned long words[8];
};

struct alignas(4096) Page {
  unsigned char bytes[4096];
};

template <typename T>
bool aligned(const T* pointer) {
  return reinterpret_cast<std::uintptr_t>(pointer) % alignof(T) == 0;
}

TT_NOINLINE void scalar_and_array() {
  for (int i = 0; i < 200; ++i) {
    CacheLine* line = new CacheLine();
    TT_CHECK(aligned(line));
    line->words[7] = static_cast<unsigned long>(i);
    delete line;
    CacheLine* lines = new CacheLine[static_cast<size_t>(i % 17 + 1)];
    TT_CHECK(aligned(lines));
    lines[i % 17].words[0] = 1;
    delete[] lines;
  }
  Page* page = new Page();
  TT_CHECK(aligned(page));
  std::memset(page->bytes, 0x7e, sizeof(page->bytes));
  delete page;
  Page* pages = new Page[3];
  TT_CHECK(aligned(pages));
  delete[] pages;
}

TT_NOINLINE void explicit_operators() {
  for (std::size_t alignment = 16; alignment <= 8192; alignment *= 2) {
    std::align_val_t align{alignment};
    void* block = ::operator new(100, align);
    TT_CHECK(reinterpret_cast<std::uintptr_t>(block) % alignment == 0);
    std::memset(block, 1, 100);
    ::operator delete(block, align);
    block = ::operator new(300, align);
    ::operator delete(block, 300, align);
    block = ::operator new[](500, align);
    ::operator delete[](block, align);
    block = ::operator new[](700, align);
    ::operator delete[](block, 700, align);
    block = ::operator new(64, align, std::nothrow);
    TT_CHECK(block != nullptr);
    ::operator delete(block, align, std::nothrow);
  }
}

TT_NOINLINE void containers() {
  std::vector<CacheLine> lines(100);
  lines.resize(1000);
  TT_CHECK(aligned(lines.data()));
  auto unique = std::make_unique<Page>();
  TT_CHECK(aligned(unique.get()));
  auto shared = std::make_shared<CacheLine>();
  TT_CHECK(aligned(shared.get()));
}

}  // namespace

int main() {
  scalar_and_array();
  explicit_operators();
  containers();
  return 0;
}
