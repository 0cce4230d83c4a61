// The registry: O(1) ownership of any address, without touching memory tally does not own.
#include "core/registry.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "core/segment.h"
#include "tally.h"

namespace tally {
namespace {

TEST(Registry, ForeignAddressesAreNotOurs) {
  int on_stack = 0;
  static int in_data = 0;
  EXPECT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(&on_stack)), 0u);
  EXPECT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(&in_data)), 0u);
  EXPECT_EQ(registry_lookup(0), 0u);
  EXPECT_EQ(registry_lookup(~uintptr_t{0}), 0u);  // beyond 47 bits: not even looked up
  EXPECT_EQ(registry_lookup(uintptr_t{1} << 47), 0u);
  void* mapped = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(mapped)), 0u);
  munmap(mapped, 1 << 20);
}

TEST(Registry, SmallBlocksLieInRegisteredSegments) {
  void* block = tally_malloc(100);
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  EXPECT_EQ(registry_lookup(address), kRegistrySegment);
  // Every address of the segment answers the same, the header included.
  EXPECT_EQ(registry_lookup(address & ~kSegmentMask), kRegistrySegment);
  EXPECT_EQ(registry_lookup((address & ~kSegmentMask) + kSegmentSize - 1), kRegistrySegment);
  tally_free(block);
}

TEST(Registry, LargeBlocksNameTheirDescriptorForEverySlotTheyCover) {
  size_t size = 3 * kSegmentSize + 12345;
  void* block = tally_malloc(size);
  ASSERT_NE(block, nullptr);
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  uintptr_t entry = registry_lookup(address);
  EXPECT_EQ(entry & kRegistryKindMask, kRegistryLarge);
  EXPECT_EQ(registry_lookup(address + size - 1), entry);
  EXPECT_EQ(registry_lookup(address + 2 * kSegmentSize), entry);
  tally_free(block);
  tally_trim();  // empties the cache of freed large mappings
  EXPECT_EQ(registry_lookup(address), 0u);
  EXPECT_EQ(registry_lookup(address + size - 1), 0u);
}

TEST(Registry, SetCoversEverySlotTouched) {
  // A range far from anything mapped, so the test owns these entries.
  uintptr_t start = uintptr_t{0x6000} << 32;
  ASSERT_TRUE(registry_prepare(start, kSegmentSize + 1));
  registry_set(start, kSegmentSize + 1, kRegistrySegment);
  EXPECT_EQ(registry_lookup(start), kRegistrySegment);
  EXPECT_EQ(registry_lookup(start + kSegmentSize), kRegistrySegment);
  EXPECT_EQ(registry_lookup(start + 2 * kSegmentSize), 0u);
  registry_set(start, kSegmentSize + 1, 0);
  EXPECT_EQ(registry_lookup(start), 0u);
  EXPECT_EQ(registry_lookup(start + kSegmentSize), 0u);
}

// A conditional clear leaves the slots another mapping registered since: a mapping moved
// by mremap gives its old range back before its slots are cleared, and a new segment or
// large block of another thread may have taken a slot of it by then.
TEST(Registry, ClearIfLeavesSlotsThatNameSomethingElse) {
  uintptr_t start = uintptr_t{0x6100} << 32;  // far from anything mapped, as above
  uintptr_t mine = 0x1000 | kRegistryLarge, theirs = 0x2000 | kRegistryLarge;
  ASSERT_TRUE(registry_prepare(start, 3 * kSegmentSize));
  registry_set(start, 3 * kSegmentSize, mine);
  registry_set(start + kSegmentSize, kSegmentSize, theirs);
  registry_clear_if(start, 3 * kSegmentSize, mine);
  EXPECT_EQ(registry_lookup(start), 0u);
  EXPECT_EQ(registry_lookup(start + kSegmentSize), theirs);
  EXPECT_EQ(registry_lookup(start + 2 * kSegmentSize), 0u);
  registry_set(start, 3 * kSegmentSize, 0);
}

// The table's leaves are mapped where ranges are registered, not for the whole address
// space: a flat table was a 256 MiB reservation in every process.
TEST(Registry, LeavesAreMappedOnlyWhereRangesAreRegistered) {
  // Two neighbouring leaves' worth of address space no mapping of this process is near.
  uintptr_t leaf_span = uintptr_t{kRegistryLeafEntries} << kSegmentShift;  // 128 GiB
  uintptr_t start = (uintptr_t{0x5000} << 32) - kSegmentSize;  // the last slot of a leaf
  size_t first_leaf = (start >> kSegmentShift) >> kRegistryLeafBits;
  ASSERT_EQ(g_registry_leaves[first_leaf].load(), nullptr);
  ASSERT_EQ(g_registry_leaves[first_leaf + 1].load(), nullptr);
  EXPECT_EQ(registry_lookup(start), 0u);  // no leaf: nothing registered, nothing read
  // A range across the boundary maps both leaves.
  ASSERT_TRUE(registry_prepare(start, 2 * kSegmentSize));
  EXPECT_NE(g_registry_leaves[first_leaf].load(), nullptr);
  EXPECT_NE(g_registry_leaves[first_leaf + 1].load(), nullptr);
  EXPECT_EQ(g_registry_leaves[first_leaf + 2].load(), nullptr);
  registry_set(start, 2 * kSegmentSize, kRegistryGuarded);
  EXPECT_EQ(registry_lookup(start), kRegistryGuarded);
  EXPECT_EQ(registry_lookup(start + kSegmentSize), kRegistryGuarded);
  EXPECT_EQ(registry_lookup(start + 2 * kSegmentSize), 0u);
  EXPECT_EQ(registry_lookup(start + leaf_span), 0u);
  registry_set(start, 2 * kSegmentSize, 0);
  EXPECT_EQ(registry_lookup(start), 0u);
  // Beyond the 47-bit address space there is nothing to prepare.
  EXPECT_FALSE(registry_prepare(uintptr_t{1} << 47, kSegmentSize));
}

}  // namespace
}  // namespace tally
