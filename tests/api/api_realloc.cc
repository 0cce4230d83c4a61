// realloc keeps contents across growth and shrinkage, across size classes and into and out
// of large blocks, and grows in place when the usable size already suffices.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>

#include <cstring>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::CheckPositional;
using tally_test::FillPositional;

constexpr size_t kMiB = size_t{1} << 20;

const std::vector<size_t>& GrowthSteps() {
  static const std::vector<size_t> steps = {
      16,       17,       24,       32,       40,        48,        64,       80,     96,
      100,      128,      160,      200,      256,       384,       512,      768,    1000,
      1024,     1500,     2048,     3000,     4096,      6000,      8192,     10000,  16384,
      32768,    50000,    65536,    100000,   131072,    200000,    262144,   500000, kMiB,
      kMiB + 1, 2 * kMiB, 4 * kMiB, 8 * kMiB, 16 * kMiB, 32 * kMiB, 64 * kMiB};
  return steps;
}

// Moves one block through `sizes`, checking the preserved prefix and refilling the rest.
void Walk(void*& block, size_t& size, const std::vector<size_t>& sizes, uint64_t salt) {
  for (size_t next : sizes) {
    void* moved = realloc(block, next);
    ASSERT_NE(moved, nullptr) << "realloc(" << size << " -> " << next << ")";
    ASSERT_TRUE(tally_test::IsAligned(moved, tally_test::ExpectedAlignment(next)));
    ASSERT_GE(malloc_usable_size(moved), next);
    const size_t kept = std::min(size, next);
    const size_t bad = CheckPositional(moved, 0, kept, salt);
    ASSERT_EQ(bad, kept) << "realloc(" << size << " -> " << next << ") lost byte " << bad;
    if (next > size) FillPositional(moved, size, next, salt);
    block = moved;
    size = next;
  }
}

TEST(ApiRealloc, ContentsSurviveGrowthAndShrinkAcrossAllClasses) {
  std::vector<size_t> up = GrowthSteps();
  std::vector<size_t> down(up.rbegin(), up.rend());
  void* block = malloc(16);
  ASSERT_NE(block, nullptr);
  size_t size = 16;
  FillPositional(block, 0, size, 1);
  Walk(block, size, up, 1);    // 16 B -> 64 MiB
  Walk(block, size, down, 1);  // 64 MiB -> 16 B
  EXPECT_EQ(size, 16u);
  free(block);
}

TEST(ApiRealloc, ContentsSurviveWithNeighboursInTheWay) {
  // Two blocks grown in turns, with small allocations between them, so that growth cannot
  // always extend in place and has to move.
  void* first = malloc(16);
  void* second = malloc(16);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  size_t first_size = 16, second_size = 16;
  FillPositional(first, 0, 16, 2);
  FillPositional(second, 0, 16, 3);
  std::vector<void*> fillers;
  for (size_t next : GrowthSteps()) {
    if (next > 16 * kMiB) break;
    Walk(first, first_size, {next}, 2);
    fillers.push_back(malloc(24));
    Walk(second, second_size, {next + 8}, 3);
    fillers.push_back(malloc(next / 4 + 1));
  }
  // Shrink them back, checking both each time.
  std::vector<size_t> down = GrowthSteps();
  for (auto it = down.rbegin(); it != down.rend(); ++it) {
    if (*it > 16 * kMiB) continue;
    Walk(first, first_size, {*it}, 2);
    Walk(second, second_size, {*it + 3}, 3);
  }
  EXPECT_EQ(CheckPositional(first, 0, first_size, 2), first_size);
  EXPECT_EQ(CheckPositional(second, 0, second_size, 3), second_size);
  free(first);
  free(second);
  for (void* filler : fillers) free(filler);
}

TEST(ApiRealloc, RandomWalkPreservesContents) {
  tally_test::Rng rng(1234);
  constexpr int kBlocks = 64;
  std::vector<void*> blocks(kBlocks, nullptr);
  std::vector<size_t> sizes(kBlocks, 0);
  for (int step = 0; step < 12000; ++step) {
    int index = static_cast<int>(rng.Next() % kBlocks);
    size_t next;
    unsigned kind = static_cast<unsigned>(rng.Next() % 100);
    if (kind < 70) {
      next = rng.Range(1, 1024);
    } else if (kind < 95) {
      next = rng.Range(1025, 256 * 1024);
    } else {
      next = rng.Range(256 * 1024, 2 * kMiB);
    }
    void* block = blocks[index];
    size_t size = sizes[index];
    Walk(block, size, {next}, static_cast<uint64_t>(index) + 100);
    if (testing::Test::HasFatalFailure()) return;
    blocks[index] = block;
    sizes[index] = size;
    if (step % 4096 == 0) {
      for (int i = 0; i < kBlocks; ++i) {
        ASSERT_EQ(CheckPositional(blocks[i], 0, sizes[i], static_cast<uint64_t>(i) + 100),
                  sizes[i]);
      }
    }
  }
  for (void* block : blocks) free(block);
}

TEST(ApiRealloc, GrowsInPlaceWhenUsableSizeSuffices) {
  if (tally_test::CheckedMode())
    GTEST_SKIP() << "safe and debug modes always move on realloc, so stale pointers hit quarantine";
  std::vector<size_t> sizes;
  for (size_t size = 1; size <= 4096; size += 7) sizes.push_back(size);
  for (size_t size : {size_t{5000}, size_t{10000}, size_t{100000}, kMiB + 17, 5 * kMiB + 3}) {
    sizes.push_back(size);
  }
  for (size_t size : sizes) {
    void* block = malloc(size);
    ASSERT_NE(block, nullptr);
    const size_t usable = malloc_usable_size(block);
    FillPositional(block, 0, size, 5);
    // A realloc to the same size never moves.
    ASSERT_EQ(realloc(block, size), block) << "realloc(" << size << " -> " << size << ") moved";
    // Every size up to the usable size is served by the same block.
    for (size_t grow : {size + 1, (size + usable) / 2, usable}) {
      if (grow > usable || grow <= size) continue;
      void* same = realloc(block, grow);
      ASSERT_EQ(same, block) << "realloc(" << size << " -> " << grow << ") moved although the "
                             << "usable size is " << usable;
      EXPECT_EQ(CheckPositional(same, 0, size, 5), size);
    }
    free(block);
  }
}

}  // namespace
