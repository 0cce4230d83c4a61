// halt_on_error=0 (C++): `delete` twice is reported once and ignored; the program then
// keeps building and tearing down objects of the same size, which must all be distinct.
// TALLY-OPTIONS: halt_on_error=0
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: discard_order
#include <set>
#include <string>
#include <vector>

#include "tally_test.h"

namespace {

struct Order {
  unsigned long id;
  double price;
  char symbol[16];
};

TT_NOINLINE void discard_order(Order* order) {
  delete order;
}

}  // namespace

int main() {
  Order* order = new Order{1, 99.5, "TLY"};
  discard_order(order);
  tt_note_bad_free(order, order, sizeof(Order));
  discard_order(order);
  tt_survived();

  std::vector<Order*> book;
  std::set<Order*> seen;
  for (unsigned long i = 0; i < 5000; ++i) {
    Order* fresh = new Order{i, 1.0 * static_cast<double>(i), "NEW"};
    TT_CHECK(seen.insert(fresh).second);  // never the same live address twice
    book.push_back(fresh);
  }
  for (unsigned long i = 0; i < book.size(); ++i) TT_CHECK(book[i]->id == i);
  for (Order* entry : book) delete entry;
  std::string summary = "orders: " + std::to_string(book.size());
  return summary.empty() ? 2 : 0;
}
