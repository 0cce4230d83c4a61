// Sized delete of the wrong size, arrays: an array of derived records is released through
// a pointer to the base type. The base has a destructor, so the array carries a cookie and
// delete[] passes operator delete[] the size it computes for Base elements, smaller than
// what new[] was asked for (and destroys the elements at the wrong stride). Checked in
// debug mode.
// TALLY-EXPECT-KIND: new-delete-type-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: release_rows
// TALLY-EXPECT-ALLOC-FRAME: load_rows
#include <cstddef>

#include "tally_test.h"

namespace {

struct Row {
  long id = 0;
  ~Row() { id = -1; }
};

struct ScoredRow : Row {
  double score = 0.5;
  double weight = 2.0;
};

constexpr std::size_t kRows = 6;

TT_NOINLINE Row* load_rows() {
  ScoredRow* rows = new ScoredRow[kRows];
  for (std::size_t i = 0; i < kRows; ++i) rows[i].id = static_cast<long>(i);
  return rows;
}

TT_NOINLINE void release_rows(Row* rows) {
  // new[] stored the element count in a cookie one word before the first element.
  char* block = reinterpret_cast<char*>(rows) - sizeof(std::size_t);
  tt_note_bad_free(block, block, sizeof(std::size_t) + kRows * sizeof(ScoredRow));
  delete[] rows;  // should be delete[] of a ScoredRow*
}

}  // namespace

int main() {
  Row* rows = load_rows();
  TT_CHECK(rows[0].id == 0);
  release_rows(rows);
  tt_survived();
  return 0;
}
