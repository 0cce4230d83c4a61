// The stack depot: one id per distinct stack, stacks come back as stored, concurrent puts
// agree, the memory limit holds, and a forked child keeps the depot.
#include "report/stack_depot.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace tally {
namespace {

// A made-up stack: `count` frames derived from `seed`.
std::vector<uintptr_t> make_stack(uint64_t seed, int count) {
  std::vector<uintptr_t> frames(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i)
    frames[static_cast<size_t>(i)] = 0x555500000000 + seed * 0x1000 + static_cast<uintptr_t>(i) * 8;
  return frames;
}

StackId put(const std::vector<uintptr_t>& frames) {
  return stack_depot_put(frames.data(), static_cast<int>(frames.size()));
}

std::vector<uintptr_t> get(StackId id) {
  uintptr_t frames[kStackDepotMaxFrames];
  int count = stack_depot_get(id, frames, kStackDepotMaxFrames);
  return std::vector<uintptr_t>(frames, frames + (count > 0 ? count : 0));
}

class StackDepotTest : public ::testing::Test {
 protected:
  void SetUp() override { stack_depot_reset_for_testing(kStackDepotDefaultLimit); }
};

TEST_F(StackDepotTest, SameStackSameId) {
  std::vector<uintptr_t> a = make_stack(1, 12);
  StackId first = put(a);
  EXPECT_NE(first, kNoStack);
  EXPECT_NE(first, kStackDropped);
  EXPECT_EQ(put(a), first);
  std::vector<uintptr_t> copy = a;  // equal contents at another address
  EXPECT_EQ(put(copy), first);
  size_t stacks = 0, bytes = 0, dropped = 0;
  stack_depot_stats(&stacks, &bytes, &dropped);
  EXPECT_EQ(stacks, 1u);
  EXPECT_EQ(dropped, 0u);
  EXPECT_GT(bytes, 0u);
}

TEST_F(StackDepotTest, DifferentStacksDifferentIds) {
  std::vector<uintptr_t> a = make_stack(1, 12);
  std::vector<uintptr_t> b = make_stack(2, 12);
  std::vector<uintptr_t> shorter(a.begin(), a.begin() + 11);  // a prefix is another stack
  std::vector<uintptr_t> changed = a;
  changed[11] += 1;  // so is one frame off
  StackId ids[] = {put(a), put(b), put(shorter), put(changed)};
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = i + 1; j < 4; ++j) EXPECT_NE(ids[i], ids[j]) << i << " vs " << j;
  EXPECT_EQ(get(ids[0]), a);
  EXPECT_EQ(get(ids[1]), b);
  EXPECT_EQ(get(ids[2]), shorter);
  EXPECT_EQ(get(ids[3]), changed);
}

TEST_F(StackDepotTest, GetReturnsWhatWasPut) {
  std::vector<std::vector<uintptr_t>> stacks;
  std::vector<StackId> ids;
  for (int i = 0; i < 5000; ++i) {
    stacks.push_back(make_stack(static_cast<uint64_t>(i), 1 + i % 40));
    ids.push_back(put(stacks.back()));
  }
  for (size_t i = 0; i < stacks.size(); ++i) ASSERT_EQ(get(ids[i]), stacks[i]) << i;
  // A short buffer gets the first frames and the full length.
  uintptr_t two[2];
  EXPECT_EQ(stack_depot_get(ids[39], two, 2), 40);
  EXPECT_EQ(two[0], stacks[39][0]);
  EXPECT_EQ(two[1], stacks[39][1]);
}

TEST_F(StackDepotTest, EmptyDroppedAndUnknownIds) {
  uintptr_t frame = 0x1234;
  EXPECT_EQ(stack_depot_put(&frame, 0), kNoStack);
  EXPECT_EQ(stack_depot_put(nullptr, -1), kNoStack);
  uintptr_t out[4];
  EXPECT_EQ(stack_depot_get(kNoStack, out, 4), 0);
  EXPECT_EQ(stack_depot_get(kStackDropped, out, 4), 0);
  EXPECT_EQ(stack_depot_get(123456789, out, 4), 0);  // beyond anything stored
}

TEST_F(StackDepotTest, LongStacksAreTruncated) {
  std::vector<uintptr_t> long_stack = make_stack(7, kStackDepotMaxFrames + 50);
  StackId id = put(long_stack);
  std::vector<uintptr_t> back = get(id);
  ASSERT_EQ(back.size(), static_cast<size_t>(kStackDepotMaxFrames));
  EXPECT_TRUE(std::equal(back.begin(), back.end(), long_stack.begin()));
}

TEST_F(StackDepotTest, ConcurrentPutsAgree) {
  constexpr int kThreads = 8;
  constexpr int kDistinct = 3000;
  constexpr int kPerThread = 6000;
  std::vector<std::vector<uintptr_t>> pool;
  for (int i = 0; i < kDistinct; ++i)
    pool.push_back(make_stack(static_cast<uint64_t>(i), 4 + i % 24));
  std::vector<std::vector<StackId>> seen(kThreads, std::vector<StackId>(kDistinct, kNoStack));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the pool in its own order, so inserts of one stack race.
      for (int k = 0; k < kPerThread; ++k) {
        int index = static_cast<int>(
            (static_cast<uint64_t>(k) * 7919 + static_cast<uint64_t>(t) * 104729) % kDistinct);
        StackId id = put(pool[static_cast<size_t>(index)]);
        StackId& slot = seen[static_cast<size_t>(t)][static_cast<size_t>(index)];
        if (slot == kNoStack)
          slot = id;
        else if (slot != id)
          slot = kStackDropped;  // flags an inconsistency
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kDistinct; ++i) {
    StackId id = kNoStack;
    for (int t = 0; t < kThreads; ++t) {
      StackId got = seen[static_cast<size_t>(t)][static_cast<size_t>(i)];
      if (got == kNoStack) continue;
      ASSERT_NE(got, kStackDropped) << "thread " << t << " got two ids for stack " << i;
      if (id == kNoStack) id = got;
      ASSERT_EQ(got, id) << "threads disagree on stack " << i;
    }
    ASSERT_NE(id, kNoStack);
    ASSERT_EQ(get(id), pool[static_cast<size_t>(i)]);
  }
  size_t stacks = 0, bytes = 0, dropped = 0;
  stack_depot_stats(&stacks, &bytes, &dropped);
  EXPECT_EQ(stacks, static_cast<size_t>(kDistinct));
  EXPECT_EQ(dropped, 0u);
}

TEST_F(StackDepotTest, MemoryLimitHolds) {
  const size_t limit = 256 * 1024;
  stack_depot_reset_for_testing(limit);
  std::vector<std::vector<uintptr_t>> stored;
  std::vector<StackId> ids;
  int dropped_puts = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uintptr_t> stack = make_stack(static_cast<uint64_t>(i), 16);
    StackId id = put(stack);
    if (id == kStackDropped) {
      ++dropped_puts;
      continue;
    }
    stored.push_back(stack);
    ids.push_back(id);
  }
  size_t stacks = 0, bytes = 0, dropped = 0;
  stack_depot_stats(&stacks, &bytes, &dropped);
  printf("limit %zu bytes: %zu stacks stored in %zu bytes, %zu puts dropped\n", limit, stacks,
         bytes, dropped);
  EXPECT_LE(bytes, limit);
  EXPECT_GT(bytes, limit * 9 / 10);  // it did fill up
  EXPECT_GT(dropped_puts, 0);
  EXPECT_EQ(dropped, static_cast<size_t>(dropped_puts));
  EXPECT_EQ(stacks, stored.size());
  // Full, the depot still finds and returns what it holds.
  for (size_t i = 0; i < stored.size(); i += 97) {
    EXPECT_EQ(put(stored[i]), ids[i]);
    EXPECT_EQ(get(ids[i]), stored[i]);
  }
  // Only the limit's worth of address space was reserved; the rest stays untouched.
  EXPECT_FALSE(stack_depot_set_limit(1 << 20));  // too late: the depot exists
}

TEST_F(StackDepotTest, ForkedChildKeepsTheDepot) {
  std::vector<uintptr_t> a = make_stack(11, 9);
  StackId id = put(a);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    bool ok = put(a) == id && get(id) == a;
    std::vector<uintptr_t> b = make_stack(12, 9);
    StackId other = put(b);
    ok = ok && other != id && other != kStackDropped && get(other) == b;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(get(id), a);
}

double nanoseconds_per_put(const std::vector<std::vector<uintptr_t>>& stacks, int rounds) {
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int r = 0; r < rounds; ++r)
    for (const std::vector<uintptr_t>& stack : stacks) put(stack);
  clock_gettime(CLOCK_MONOTONIC, &end);
  double elapsed = static_cast<double>(end.tv_sec - start.tv_sec) * 1e9 +
                   static_cast<double>(end.tv_nsec - start.tv_nsec);
  return elapsed / (static_cast<double>(rounds) * static_cast<double>(stacks.size()));
}

TEST_F(StackDepotTest, CostOfPut) {
  std::vector<std::vector<uintptr_t>> small, large;
  for (int i = 0; i < 64; ++i) small.push_back(make_stack(static_cast<uint64_t>(i), 16));
  for (int i = 0; i < 100000; ++i) large.push_back(make_stack(static_cast<uint64_t>(1000 + i), 16));
  double insert = nanoseconds_per_put(large, 1);  // each put stores a new stack
  double hit_large = nanoseconds_per_put(large, 3);
  nanoseconds_per_put(small, 1);
  double hit_small = nanoseconds_per_put(small, 20000);
  printf(
      "stack_depot_put, 16 frames: new stack %.1f ns; stored stack %.1f ns (64 hot "
      "stacks), %.1f ns (100,000 stacks)\n",
      insert, hit_small, hit_large);
  RecordProperty("insert_ns", static_cast<int>(insert));
  RecordProperty("hit_ns", static_cast<int>(hit_small));
}

}  // namespace
}  // namespace tally
