// Double free of a calloc'd array.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: destroy_polygon
#include "tally_test.h"

struct point {
  double x, y;
};

struct polygon {
  struct point* points;
  size_t count;
};

static TT_NOINLINE void destroy_polygon(struct polygon* polygon) {
  free(polygon->points);
}

int main(void) {
  struct polygon polygon;
  polygon.count = 17;
  polygon.points = (struct point*)calloc(polygon.count, sizeof(struct point));
  TT_CHECK(polygon.points != NULL);
  for (size_t i = 0; i < polygon.count; ++i) TT_CHECK(polygon.points[i].x == 0.0);
  destroy_polygon(&polygon);
  tt_note_bad_free(polygon.points, polygon.points, polygon.count * sizeof(struct point));
  destroy_polygon(&polygon);
  tt_survived();
  return 0;
}
