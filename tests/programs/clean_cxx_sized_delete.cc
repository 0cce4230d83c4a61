// Clean: sized deletes whose size the compiler gets right, which a size check must accept:
// a derived object deleted through a base with a virtual destructor (the deleting
// destructor passes the dynamic type's size), through the second base of a multiple
// inheritance (the pointer is adjusted back to the whole object first), arrays of a type
// with a destructor (the size includes the cookie), over-aligned types (sized aligned
// delete), zero-length arrays, std::allocator with the count it allocated, and the
// standard containers and smart pointers that free through it.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tally_test.h"

namespace {

struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
  int id = 0;
};

struct Rectangle : Shape {
  double width = 2, height = 3;
  double area() const override { return width * height; }
};

struct Polygon : Shape {
  double points[40] = {};
  double area() const override { return points[0] + 1; }
};

struct Named {
  virtual ~Named() = default;
  std::string name = "a name too long for the small-string buffer";
};

struct NamedPolygon : Polygon, Named {
  long extra[3] = {1, 2, 3};
};

struct alignas(64) Lane {
  uint64_t counters[10] = {};
};

struct alignas(128) WideLane {
  ~WideLane() { counters[0] = 0; }
  uint64_t counters[20] = {};
};

struct WithDestructor {
  ~WithDestructor() { value = -1; }
  long value = 7;
};

TT_NOINLINE void polymorphic() {
  std::vector<Shape*> shapes;
  for (int i = 0; i < 50; ++i) {
    if (i % 3 == 0)
      shapes.push_back(new Rectangle());
    else if (i % 3 == 1)
      shapes.push_back(new Polygon());
    else
      shapes.push_back(new NamedPolygon());
  }
  double total = 0;
  for (Shape* shape : shapes) total += shape->area();
  TT_CHECK(total > 0);
  for (Shape* shape : shapes) delete shape;
  // Through the second base: the thunk finds the whole object before the sized delete.
  Named* named = new NamedPolygon();
  TT_CHECK(named->name.size() > 20);
  delete named;
}

TT_NOINLINE void arrays_and_alignment() {
  WithDestructor* objects = new WithDestructor[13];  // a cookie in front
  TT_CHECK(objects[12].value == 7);
  delete[] objects;
  WithDestructor* none = new WithDestructor[0];
  delete[] none;
  Lane* lane = new Lane();
  TT_CHECK(reinterpret_cast<uintptr_t>(lane) % 64 == 0);
  delete lane;  // operator delete(void*, size_t, align_val_t)
  WideLane* lanes = new WideLane[5];
  TT_CHECK(reinterpret_cast<uintptr_t>(lanes) % 128 == 0);
  delete[] lanes;
  auto big = std::make_unique<Polygon[]>(3000);  // a large block
  big[2999].id = 4;
}

TT_NOINLINE void library_types() {
  std::allocator<double> allocator;
  double* doubles = allocator.allocate(70000);
  doubles[69999] = 1;
  allocator.deallocate(doubles, 70000);
  std::vector<std::string> words;
  for (int i = 0; i < 2000; ++i) words.push_back(std::string(30 + i % 40, 'x'));
  words.shrink_to_fit();
  std::map<int, std::list<int>> groups;
  for (int i = 0; i < 3000; ++i) groups[i % 97].push_back(i);
  auto shared = std::make_shared<Polygon>();
  std::shared_ptr<Shape> as_base = shared;
  shared.reset();
  TT_CHECK(as_base->area() > 0);
  std::function<double()> call = [copy = std::vector<double>(100, 1.0)] { return copy[5]; };
  TT_CHECK(call() == 1.0);
}

}  // namespace

int main() {
  for (int round = 0; round < 20; ++round) {
    polymorphic();
    arrays_and_alignment();
    library_types();
  }
  return 0;
}
