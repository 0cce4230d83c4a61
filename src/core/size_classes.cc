// Size class look-ups that are not on the hot path.
#include "core/size_classes.h"

namespace tally {

unsigned size_class_for_alignment(size_t size, size_t alignment) {
  if (size > kMaxSmallSize || alignment > kSlotSize) return kClassCount;
  for (unsigned c = size_class_of(size == 0 ? 1 : size); c < kClassCount; ++c) {
    if (size_class_alignment(c) >= alignment) return c;
  }
  return kClassCount;
}

}  // namespace tally
