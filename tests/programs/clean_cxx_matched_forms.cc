// Clean: every matching pair of allocation and deallocation that C++ and C offer, the
// ones a mismatch check must accept: new/delete (sized and unsized), new[]/delete[] with
// and without an array cookie (non-trivial destructor), nothrow new, placement new on
// malloc'ed memory destroyed explicitly and released with free, a class with its own
// operator new/delete on top of malloc, std::allocator, malloc/free, and realloc of a
// malloc'ed block.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "tally_test.h"

namespace {

struct Trivial {
  int a;
  double b;
};

struct WithDestructor {
  std::string name = "a name long enough to live on the heap";
  ~WithDestructor() { name.clear(); }
};

struct OwnOperators {
  static void* operator new(std::size_t size) { return std::malloc(size); }
  static void operator delete(void* pointer) { std::free(pointer); }
  long payload[5];
};

TT_NOINLINE void scalars() {
  Trivial* trivial = new Trivial{1, 2.0};
  delete trivial;  // sized delete with -fsized-deallocation
  void* raw = ::operator new(77);
  ::operator delete(raw);
  raw = ::operator new(77);
  ::operator delete(raw, 77);
  Trivial* nothrow = new (std::nothrow) Trivial{3, 4.0};
  TT_CHECK(nothrow != nullptr);
  delete nothrow;
}

TT_NOINLINE void arrays() {
  Trivial* trivials = new Trivial[33];
  delete[] trivials;
  WithDestructor* objects = new WithDestructor[7];  // carries a cookie
  objects[6].name += " and more";
  delete[] objects;
  char* bytes = new (std::nothrow) char[4000];
  TT_CHECK(bytes != nullptr);
  delete[] bytes;
}

TT_NOINLINE void placement_and_own_operators() {
  void* memory = std::malloc(sizeof(WithDestructor));
  TT_CHECK(memory != nullptr);
  WithDestructor* object = new (memory) WithDestructor();
  object->~WithDestructor();
  std::free(memory);
  OwnOperators* own = new OwnOperators();
  own->payload[4] = 9;
  delete own;  // goes to the class's operator delete: free() of a malloc'ed block
}

TT_NOINLINE void allocators_and_c() {
  std::allocator<long> allocator;
  long* longs = allocator.allocate(1000);
  longs[999] = 1;
  allocator.deallocate(longs, 1000);
  char* text = static_cast<char*>(std::malloc(10));
  TT_CHECK(text != nullptr);
  text = static_cast<char*>(std::realloc(text, 100000));
  TT_CHECK(text != nullptr);
  std::free(text);
  std::free(std::calloc(10, 10));
}

}  // namespace

int main() {
  for (int i = 0; i < 100; ++i) {
    scalars();
    arrays();
    placement_and_own_operators();
    allocators_and_c();
  }
  return 0;
}
