// Use after free, read, through a reference to a std::vector element kept across a
// push_back that reallocated: the order book keeps a reference to the best order, adds
// an incoming order (the vector grows), then reads the price through the reference.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: match_incoming
// TALLY-EXPECT-FREE-FRAME: match_incoming
// TALLY-EXPECT-ALLOC-FRAME: load_book
#include <vector>

#include "tally_test.h"

namespace {

struct Order {
  long id;
  long price;
  long quantity;
};

TT_NOINLINE std::vector<Order> load_book() {
  std::vector<Order> book;
  book.reserve(8);
  for (long i = 0; i < 8; ++i) book.push_back(Order{i, 1000 - i * 5, 10 + i});
  return book;
}

TT_NOINLINE long match_incoming(std::vector<Order>& book, const Order& incoming) {
  const Order& best = book.front();
  const Order* old_storage = book.data();
  size_t old_bytes = book.capacity() * sizeof(Order);
  book.push_back(incoming);  // the book was full: the elements move
  TT_PRECONDITION(book.data() != old_storage);
  tt_note_bad_access(&best.price, sizeof(best.price), old_storage, old_bytes);
  long price = best.price;  // read through the dangling reference
  tt_after_bad_access();
  return price;
}

}  // namespace

int main() {
  std::vector<Order> book = load_book();
  TT_PRECONDITION(book.size() == book.capacity());
  tt_consume(static_cast<unsigned long>(match_incoming(book, Order{99, 990, 3})));
  return 0;
}
