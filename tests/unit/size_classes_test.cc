// Size classes: the mapping from sizes to classes, and the exact division that turns a
// pointer into a block index (what free validation rests on).
#include "core/size_classes.h"

#include <gtest/gtest.h>

#include "core/segment.h"

namespace tally {
namespace {

TEST(SizeClasses, SizesStrictlyIncreaseAndAreMultiplesOf16) {
  for (unsigned c = 1; c < kClassCount; ++c) {
    EXPECT_GT(g_size_classes[c].block_size, g_size_classes[c - 1].block_size);
    EXPECT_EQ(g_size_classes[c].block_size % 16, 0u) << c;
  }
}

TEST(SizeClasses, EverySizeMapsToTheSmallestClassThatHoldsIt) {
  for (size_t size = 0; size <= kMaxSmallSize; ++size) {
    unsigned c = size_class_of(size);
    ASSERT_LT(c, kClassCount) << size;
    ASSERT_GE(g_size_classes[c].block_size, size) << size;
    if (c > 0) {
      ASSERT_LT(g_size_classes[c - 1].block_size, size) << size;
    }
  }
}

TEST(SizeClasses, WasteStaysUnderAQuarterAbove128Bytes) {
  for (size_t size = 129; size <= kMaxSmallSize; size += 7) {
    size_t block = g_size_classes[size_class_of(size)].block_size;
    EXPECT_LE((block - size) * 4, block) << size;
  }
}

TEST(SizeClasses, PagesHoldEnoughBlocksAndFitTheBitmap) {
  for (unsigned c = 0; c < kClassCount; ++c) {
    const SizeClassInfo& info = g_size_classes[c];
    EXPECT_GE(info.capacity, kMinBlocksPerPage) << c;
    EXPECT_LE(info.capacity, kMaxBlocksPerPage) << c;
    EXPECT_LE(uint64_t{info.capacity} * info.block_size, uint64_t{info.slot_count} * kSlotSize);
    EXPECT_LE(info.slot_count, kSlotsPerSegment - kHeaderSlots);
  }
}

TEST(SizeClasses, ReciprocalDivisionIsExactForEveryOffsetOfAPage) {
  for (unsigned c = 0; c < kClassCount; ++c) {
    const SizeClassInfo& info = g_size_classes[c];
    Page page{};
    page.start = 0;
    page.block_size = info.block_size;
    page.capacity = info.capacity;
    page.reciprocal = info.reciprocal;
    uint64_t span = uint64_t{info.slot_count} * kSlotSize;
    for (uint64_t offset = 0; offset < span; ++offset) {
      uint32_t index = block_index_of(&page, offset);
      bool is_block_start =
          offset % info.block_size == 0 && offset / info.block_size < info.capacity;
      uint32_t expected =
          is_block_start ? static_cast<uint32_t>(offset / info.block_size) : UINT32_MAX;
      ASSERT_EQ(index, expected) << "class " << c << " offset " << offset;
    }
  }
}

TEST(SizeClasses, AlignedClassesHonourTheAlignment) {
  for (size_t alignment = 16; alignment <= kSlotSize; alignment *= 2) {
    for (size_t size : {size_t{1}, alignment - 1, alignment, alignment + 1, 3 * alignment}) {
      unsigned c = size_class_for_alignment(size, alignment);
      if (size > kMaxSmallSize) {
        EXPECT_EQ(c, kClassCount);
        continue;
      }
      ASSERT_LT(c, kClassCount) << size << " @" << alignment;
      EXPECT_GE(g_size_classes[c].block_size, size);
      EXPECT_EQ(g_size_classes[c].block_size % alignment, 0u) << size << " @" << alignment;
    }
  }
  EXPECT_EQ(size_class_for_alignment(100, 2 * kSlotSize), kClassCount);
}

}  // namespace
}  // namespace tally
