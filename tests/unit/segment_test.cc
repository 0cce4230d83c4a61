// Segments and pages: slot bookkeeping, finding a page from any address, and the header
// never being mistaken for a block.
#include "core/segment.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/heap.h"
#include "core/registry.h"
#include "tally.h"

namespace tally {
namespace {

TEST(Segment, FindSlotsSkipsTheHeaderAndUsedRuns) {
  Segment* segment = segment_acquire(nullptr);
  ASSERT_NE(segment, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(segment) & kSegmentMask, 0u);
  EXPECT_EQ(segment->used_slots, kHeaderSlotMask);
  EXPECT_EQ(segment_find_slots(segment, 1), kHeaderSlots);
  segment->used_slots |= uint64_t{1} << 2 | uint64_t{1} << 5;
  EXPECT_EQ(segment_find_slots(segment, 1), 3u);
  EXPECT_EQ(segment_find_slots(segment, 2), 3u);
  EXPECT_EQ(segment_find_slots(segment, 3), 6u);
  EXPECT_EQ(segment_find_slots(segment, 32), 6u);
  segment->used_slots = ~uint64_t{0} & ~(uint64_t{1} << 63);
  EXPECT_EQ(segment_find_slots(segment, 1), 63u);
  EXPECT_EQ(segment_find_slots(segment, 2), 0u);
  segment->used_slots = ~uint64_t{0};
  EXPECT_EQ(segment_find_slots(segment, 1), 0u);
  segment->used_slots = kHeaderSlotMask;
  segment_release(segment);
}

TEST(Segment, EveryAddressOfAMultiSlotPageFindsItsHead) {
  // 100 KiB blocks live in pages of several slots.
  unsigned size_class = size_class_of(100 * 1024);
  ASSERT_GT(g_size_classes[size_class].slot_count, 1);
  void* block = tally_malloc(100 * 1024);
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  Segment* segment = segment_of(address);
  Page* page = page_of(segment, address);
  EXPECT_EQ(page->size_class, size_class);
  EXPECT_EQ(page->slot_count, g_size_classes[size_class].slot_count);
  for (uintptr_t offset = 0; offset < 100 * 1024; offset += 4096)
    EXPECT_EQ(page_of(segment, address + offset), page);
  EXPECT_EQ(block_index_of(page, address), (address - page->start) / page->block_size);
  EXPECT_EQ(block_index_of(page, address + 8), UINT32_MAX);
  tally_free(block);
}

TEST(Segment, TheHeaderIsNeverABlock) {
  void* block = tally_malloc(24);
  Segment* segment = segment_of(reinterpret_cast<uintptr_t>(block));
  for (uintptr_t offset = 0; offset < kHeaderSlots * kSlotSize; offset += 512) {
    uintptr_t address = reinterpret_cast<uintptr_t>(segment) + offset;
    EXPECT_EQ(block_index_of(page_of(segment, address), address), UINT32_MAX) << offset;
  }
  tally_free(block);
}

TEST(Segment, BlocksOfOnePageAreDistinctAndFillIt) {
  // Allocate more than a page of 48-byte blocks and check no two overlap.
  std::vector<void*> blocks;
  std::set<uintptr_t> seen;
  for (int i = 0; i < 5000; ++i) {
    void* block = tally_malloc(48);
    ASSERT_NE(block, nullptr);
    uintptr_t address = reinterpret_cast<uintptr_t>(block);
    EXPECT_EQ(address % 16, 0u);
    EXPECT_TRUE(seen.insert(address).second) << "block handed out twice";
    blocks.push_back(block);
  }
  uintptr_t previous = 0;
  for (uintptr_t address : seen) {
    bool same_page =
        previous && segment_of(previous) == segment_of(address) &&
        page_of(segment_of(address), address) == page_of(segment_of(previous), previous);
    if (same_page) {
      EXPECT_GE(address - previous, 48u);
    }
    previous = address;
  }
  for (void* block : blocks) tally_free(block);
}

TEST(Segment, FreedSegmentsGoBackToTheCacheAndTheKernel) {
  // A working set of many pages, freed: committed bytes fall back.
  size_t committed_before = g_bytes_committed.load();
  std::vector<void*> blocks;
  for (int i = 0; i < 40000; ++i) blocks.push_back(tally_malloc(1000));
  EXPECT_GT(g_bytes_committed.load(), committed_before + 30 * 1000 * 1000);
  for (void* block : blocks) tally_free(block);
  tally_trim();
  EXPECT_LT(g_bytes_committed.load(), committed_before + 2 * 1024 * 1024);
}

}  // namespace
}  // namespace tally
