// tally's list of its own mappings: every os_map mapping is on it until os_unmap, the
// heap's aligned mappings (which the registry knows) are not, and the list keeps every
// entry through the rebuilds that thousands of mappings cause.
#include "os/internal_mappings.h"

#include <gtest/gtest.h>

#include <vector>

#include "os/memory.h"

namespace tally {
namespace {

std::vector<std::pair<uintptr_t, uintptr_t>> listed() {
  internal_mappings_lock();
  size_t count = internal_mappings_copy(nullptr, 0);
  std::vector<uintptr_t> words(2 * count);
  internal_mappings_copy(words.data(), count);
  internal_mappings_unlock_after_fork(false);
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  for (size_t i = 0; i < count; ++i) ranges.emplace_back(words[2 * i], words[2 * i + 1]);
  return ranges;
}

bool is_listed(const void* start, size_t size) {
  auto want =
      std::make_pair(reinterpret_cast<uintptr_t>(start), reinterpret_cast<uintptr_t>(start) + size);
  for (const auto& range : listed())
    if (range == want) return true;
  return false;
}

TEST(InternalMappings, AMappingIsListedUntilUnmapped) {
  void* mapping = os_map(3 * 4096);
  ASSERT_NE(mapping, nullptr);
  EXPECT_TRUE(is_listed(mapping, 3 * 4096));
  os_unmap(mapping, 3 * 4096);
  EXPECT_FALSE(is_listed(mapping, 3 * 4096));
}

// The kernel maps whole pages; a list that ended mid-page would leave the rest of the page
// to be scanned as the program's memory.
TEST(InternalMappings, AMappingIsListedInWholePages) {
  void* mapping = os_map(100);
  ASSERT_NE(mapping, nullptr);
  EXPECT_TRUE(is_listed(mapping, 4096));
  os_unmap(mapping, 100);
  EXPECT_FALSE(is_listed(mapping, 4096));
}

TEST(InternalMappings, TheHeapsAlignedMappingsAreNotListed) {
  constexpr size_t kSize = size_t{4} << 20;
  void* segment = os_map_aligned(kSize, kSize);
  ASSERT_NE(segment, nullptr);
  for (const auto& range : listed()) {
    bool meets = range.first < reinterpret_cast<uintptr_t>(segment) + kSize &&
                 reinterpret_cast<uintptr_t>(segment) < range.second;
    EXPECT_FALSE(meets);
  }
  os_unmap(segment, kSize);
}

TEST(InternalMappings, ThousandsOfMappingsSurviveTheRebuilds) {
  size_t before = listed().size();
  std::vector<void*> mappings;
  for (int i = 0; i < 5000; ++i) {
    void* mapping = os_map(4096);
    ASSERT_NE(mapping, nullptr);
    mappings.push_back(mapping);
    if (i % 3 == 0) {  // tombstones among the live entries
      os_unmap(mappings.back(), 4096);
      mappings.back() = nullptr;
    }
  }
  auto ranges = listed();
  size_t live = 0;
  for (void* mapping : mappings) {
    if (!mapping) continue;
    ++live;
    auto want = std::make_pair(reinterpret_cast<uintptr_t>(mapping),
                               reinterpret_cast<uintptr_t>(mapping) + 4096);
    bool found = false;
    for (const auto& range : ranges) found |= range == want;
    EXPECT_TRUE(found);
  }
  // The live ones, what was there before, and the table's own mapping (which may have moved).
  EXPECT_GE(ranges.size(), before + live);
  EXPECT_LE(ranges.size(), before + live + 1);
  for (void* mapping : mappings)
    if (mapping) os_unmap(mapping, 4096);
  EXPECT_LE(listed().size(), before + 1);
}

}  // namespace
}  // namespace tally
