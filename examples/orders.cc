// The classic "orders" bug: a function builds a vector of order counts, sums them, and
// frees its buffer too early and then a second time. Under tally the second free is
// caught and reported with its stack; the first shows up as reading freed memory, which
// tally's safe and debug modes will catch in a later version.
#include <stdio.h>
#include <stdlib.h>

struct OrderCounts {
  int* counts;
  size_t size;
};

static OrderCounts build_order_counts(size_t days) {
  OrderCounts orders{static_cast<int*>(malloc(days * sizeof(int))), days};
  for (size_t day = 0; day < days; ++day) orders.counts[day] = static_cast<int>(day % 7 + 1);
  return orders;
}

static void release(OrderCounts& orders) {
  free(orders.counts);
}

static long total_orders(OrderCounts& orders) {
  long total = 0;
  for (size_t day = 0; day < orders.size; ++day) total += orders.counts[day];
  release(orders);  // bug: freed here, while the caller still owns it
  return total;
}

int main() {
  OrderCounts orders = build_order_counts(30);
  long total = total_orders(orders);
  printf("total orders over %zu days: %ld\n", orders.size, total);
  release(orders);  // bug: freed a second time
  printf("done\n");
  return 0;
}
