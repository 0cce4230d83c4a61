// Mismatched deallocation, new / delete[]: a generic release helper written for arrays
// (delete[]) is used on a single object allocated with new. The type is trivially
// destructible, so no array cookie is involved: only the mismatch is wrong.
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: release_all
// TALLY-EXPECT-ALLOC-FRAME: make_origin
#include "tally_test.h"

namespace {

struct Point {
  double x;
  double y;
  double z;
};

template <typename T>
TT_NOINLINE void release_all(T* items) {
  delete[] items;  // the helper assumes every pointer came from new[]
}

TT_NOINLINE Point* make_origin() {
  return new Point{0.0, 0.0, 0.0};
}

}  // namespace

int main() {
  Point* origin = make_origin();
  origin->z = 1.0;
  tt_note_bad_free(origin, origin, sizeof(Point));
  release_all(origin);
  tt_survived();
  return 0;
}
