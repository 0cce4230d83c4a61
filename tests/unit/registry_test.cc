// The registry: O(1) ownership of any address, without touching memory tally does not own.
#include "core/registry.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "core/segment.h"
#include "tally.h"

namespace tally {
namespace {

TEST(Registry, ForeignAddressesAreNotOurs) {
  ASSERT_TRUE(registry_initialize());
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
  ASSERT_TRUE(registry_initialize());
  // A range far from anything mapped, so the test owns these entries.
  uintptr_t start = uintptr_t{0x6000} << 32;
  registry_set(start, kSegmentSize + 1, kRegistrySegment);
  EXPECT_EQ(registry_lookup(start), kRegistrySegment);
  EXPECT_EQ(registry_lookup(start + kSegmentSize), kRegistrySegment);
  EXPECT_EQ(registry_lookup(start + 2 * kSegmentSize), 0u);
  registry_set(start, kSegmentSize + 1, 0);
  EXPECT_EQ(registry_lookup(start), 0u);
  EXPECT_EQ(registry_lookup(start + kSegmentSize), 0u);
}

}  // namespace
}  // namespace tally
