// Clean: pointer arithmetic up to one past the end without dereferencing it: loops that
// run while p != end, end - begin sizes, memcpy/memcmp/memmove of zero bytes at the end
// pointer, a reverse loop that stops at the beginning. The last element is accessed, the
// one past it never; sizes that end flush against a guard page in debug mode included.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE long sum_range(const int* begin, const int* end) {
  long sum = 0;
  for (const int* p = begin; p != end; ++p) sum += *p;
  return sum;
}

static TT_NOINLINE void reverse_in_place(char* begin, char* end) {
  while (begin < end) {
    --end; /* end first moves onto the last element */
    char swap = *begin;
    *begin = *end;
    *end = swap;
    ++begin;
  }
}

static TT_NOINLINE void check_size(size_t count) {
  int* values = (int*)malloc(count * sizeof(int));
  TT_CHECK(values != NULL);
  int* end = values + count;
  for (int* p = values; p < end; ++p) *p = (int)(p - values);
  TT_CHECK(end - values == (long)count);
  TT_CHECK(sum_range(values, end) == (long)count * ((long)count - 1) / 2);
  memcpy(end, values, 0);
  memmove(end, end, 0);
  TT_CHECK(memcmp(end, values, 0) == 0);
  TT_CHECK(end[-1] == (int)count - 1);
  free(values);
}

int main(void) {
  static const size_t counts[] = {1, 3, 4, 16, 25, 64, 100, 1024, 16384, 300000};
  for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); ++i) check_size(counts[i]);
  char* text = strdup("one past the end is a valid pointer");
  TT_CHECK(text != NULL);
  size_t length = strlen(text);
  reverse_in_place(text, text + length);
  reverse_in_place(text, text + length);
  TT_CHECK(strcmp(text, "one past the end is a valid pointer") == 0);
  free(text);
  return 0;
}
