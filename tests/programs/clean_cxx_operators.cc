// Clean: every form of operator new/delete a program normally uses: scalar and array,
// sized (implicit with -fsized-deallocation), nothrow, over-aligned, and placement new
// into heap storage; objects created in one thread and deleted in another.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <cstdint>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "tally_test.h"

namespace {

struct Small {
  int value;
};

struct WithDestructor {
  char* name;
  explicit WithDestructor(const char* text) : name(new char[std::strlen(text) + 1]) {
    std::strcpy(name, text);
  }
  ~WithDestructor() { delete[] name; }
};

struct alignas(64) CacheAligned {
  long counters[8];
};

struct alignas(4096) PageAligned {
  unsigned char bytes[4096];
};

TT_NOINLINE void scalar_and_array() {
  for (int i = 0; i < 1000; ++i) {
    Small* small = new Small{i};
    TT_CHECK(small->value == i);
    delete small;
    int* numbers = new int[static_cast<size_t>(i) + 1];
    numbers[i] = i;
    delete[] numbers;
    WithDestructor* named = new WithDestructor("named object");
    delete named;
    WithDestructor* several =
        new WithDestructor[3]{WithDestructor("a"), WithDestructor("b"), WithDestructor("c")};
    delete[] several;  // array cookie + destructors
  }
}

TT_NOINLINE void nothrow_and_aligned() {
  for (int i = 0; i < 200; ++i) {
    Small* small = new (std::nothrow) Small{i};
    TT_CHECK(small != nullptr);
    delete small;
    CacheAligned* line = new CacheAligned();
    TT_CHECK(reinterpret_cast<std::uintptr_t>(line) % 64 == 0);
    delete line;
    PageAligned* page = new PageAligned();
    TT_CHECK(reinterpret_cast<std::uintptr_t>(page) % 4096 == 0);
    delete page;
    CacheAligned* lines = new CacheAligned[5];
    TT_CHECK(reinterpret_cast<std::uintptr_t>(lines) % 64 == 0);
    delete[] lines;
    void* raw = ::operator new(100, std::align_val_t(256));
    TT_CHECK(reinterpret_cast<std::uintptr_t>(raw) % 256 == 0);
    ::operator delete(raw, std::align_val_t(256));
#if defined(__cpp_sized_deallocation)  // g++ by default; clang++ with -fsized-deallocation
    void* sized = ::operator new(333);
    ::operator delete(sized, 333);
#endif
    void* quiet = ::operator new[](77, std::nothrow);
    TT_CHECK(quiet != nullptr);
    ::operator delete[](quiet, std::nothrow);
  }
}

TT_NOINLINE void placement() {
  void* storage = ::operator new(sizeof(WithDestructor));
  WithDestructor* object = new (storage) WithDestructor("placed");
  object->~WithDestructor();
  ::operator delete(storage);
}

TT_NOINLINE void cross_thread_delete() {
  std::vector<WithDestructor*> made;
  std::thread maker([&made] {
    for (int i = 0; i < 5000; ++i) made.push_back(new WithDestructor("crossing"));
  });
  maker.join();
  std::thread deleter([&made] {
    for (WithDestructor* object : made) delete object;
  });
  deleter.join();
}

}  // namespace

int main() {
  scalar_and_array();
  nothrow_and_aligned();
  placement();
  cross_thread_delete();
  return 0;
}
