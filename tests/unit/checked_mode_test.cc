// The checked paths end to end, in mode=debug: each bug class produces its report with the
// stacks that make it useful, and clean use produces none.
#include <gtest/gtest.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "api/checked_allocation.h"
#include "core/heap.h"
#include "os/process.h"
#include "safety/guard_pool.h"
#include "safety/quarantine.h"
#include "safety/safety_config.h"
#include "tally.h"

namespace tally {
namespace {

__attribute__((noinline)) char* allocate_orders(size_t size) {
  return static_cast<char*>(tally_malloc(size));
}

__attribute__((noinline)) void release_orders(void* block) {
  tally_free(block);
}

// The statistics' calls per API count a free of NULL, as fast mode's do: sed -z, which
// frees NULL three times for every block, showed four times the frees in fast mode.
TEST(CheckedMode, AFreeOfNullCountsAsACall) {
  tally_free(tally_malloc(8));  // the thread has a heap
  ASSERT_NE(t_heap, nullptr);
  uint64_t before = t_heap->api_calls[kCallFree];
  tally_free(nullptr);
  EXPECT_EQ(t_heap->api_calls[kCallFree], before + 1);
}

TEST(CheckedModeDeathTest, OverflowIntoTheCanaryIsReportedAtFree) {
  // Beyond guard_max_size, so the block is an ordinary one with a canary after it.
  size_t size = g_safety.guard_max_size + 100;
  char* block = allocate_orders(size);
  block[size] = 'x';  // one past the end
  EXPECT_EXIT(release_orders(block), testing::ExitedWithCode(1),
              "ERROR: tally: heap-buffer-overflow on address 0x[0-9a-f]+ in thread T0(.|\n)*"
              "is located 0 bytes to the right of [0-9]+-byte region(.|\n)*"
              "previously allocated by thread T0 here:(.|\n)*allocate_orders");
  block[size] = static_cast<char>(kCanaryByte);
  release_orders(block);
}

TEST(CheckedModeDeathTest, ReadAfterFreeOfAGuardedBlockFaultsWithAllThreeStacks) {
  char* block = allocate_orders(40);
  release_orders(block);
  EXPECT_EXIT((void)*static_cast<volatile char*>(block + 8), testing::ExitedWithCode(1),
              "ERROR: tally: heap-use-after-free on address 0x[0-9a-f]+ in thread T0\n"
              "READ of size 1 at 0x[0-9a-f]+(.|\n)*"
              "is located 8 bytes inside of 40-byte region(.|\n)*"
              "freed by thread T0 here:(.|\n)*release_orders(.|\n)*"
              "previously allocated by thread T0 here:(.|\n)*allocate_orders");
}

TEST(CheckedModeDeathTest, OverflowWriteIntoTheGuardPageFaults) {
  char* block = allocate_orders(64);
  EXPECT_EXIT(memset(block, 0, 64 + 4096), testing::ExitedWithCode(1),
              "ERROR: tally: heap-buffer-overflow(.|\n)*WRITE of size(.|\n)*"
              "bytes to the right of 64-byte region");
  release_orders(block);
}

TEST(CheckedModeDeathTest, WriteAfterFreeIsFoundWhenTheBlockLeavesQuarantine) {
  // A small block without a guard page (every one has one in debug mode unless the pool
  // refuses it): poisoned and quarantined, so the write is found when it leaves.
  size_t guard_max_size = g_safety.guard_max_size;
  g_safety.guard_max_size = 0;
  char* block = allocate_orders(1000);
  g_safety.guard_max_size = guard_max_size;
  release_orders(block);
  block[123] = 7;
  EXPECT_EXIT(quarantine_drain(), testing::ExitedWithCode(1),
              "ERROR: tally: heap-use-after-free on address 0x[0-9a-f]+(.|\n)*"
              "is located 123 bytes inside of [0-9]+-byte region(.|\n)*"
              "freed by thread T0 here:(.|\n)*release_orders(.|\n)*A WRITE to the freed block"
              // Found far from the bug: the SUMMARY names the free, not the finder.
              "(.|\n)*SUMMARY: tally: heap-use-after-free [^\n]* in "
              "tally::\\(anonymous namespace\\)::release_orders");
  block[123] = static_cast<char>(kPoisonByte);
}

TEST(CheckedModeDeathTest, MismatchedDeallocationIsReported) {
  char* block = allocate_orders(24);
  EXPECT_EXIT(deallocate_checked(block, kCallDelete, 0), testing::ExitedWithCode(1),
              "alloc-dealloc-mismatch \\(malloc vs operator delete\\)");
  release_orders(block);
}

TEST(CheckedModeDeathTest, DoubleFreeNamesBothFrees) {
  char* block = allocate_orders(24);
  release_orders(block);
  EXPECT_EXIT(release_orders(block), testing::ExitedWithCode(1),
              "attempting double-free(.|\n)*freed by thread T0 here:(.|\n)*release_orders");
}

TEST(CheckedMode, CleanUseIsSilentAndUsableSizeIsTheRequestedSize) {
  testing::internal::CaptureStderr();
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{17}, size_t{1000}, size_t{70000}, size_t{1} << 20}) {
    char* block = allocate_orders(size);
    EXPECT_EQ(tally_malloc_usable_size(block), size);
    memset(block, 0xAB, size);
    block = static_cast<char*>(tally_realloc(block, size * 2 + 1));
    for (size_t i = 0; i < size; ++i) ASSERT_EQ(static_cast<unsigned char>(block[i]), 0xAB);
    release_orders(block);
  }
  quarantine_drain();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// A crash outside the heap that no handler of the program takes is reported with its stack
// before the signal's default action; when a register holds the freed blocks' poison (a
// pointer read out of a freed block) the report says it is a use after free.
__attribute__((noinline)) int follow_stale_link(const int* const* link) {
  return **static_cast<const int* const volatile*>(link);
}

volatile int g_sink;
void consume(int value) {
  g_sink = value;
}

TEST(CheckedModeDeathTest, ACrashThroughAPoisonedPointerIsReportedAsUseAfterFree) {
  uintptr_t poisoned = 0x0101010101010101ull * kPoisonByte;  // as read out of a freed block
  const int* link = reinterpret_cast<const int*>(poisoned);
  // The poison is no canonical address: the processor reports none (si_addr is 0), and the
  // report prints none rather than a misleading 0x0.
  EXPECT_EXIT(consume(follow_stale_link(&link)), testing::KilledBySignal(SIGSEGV),
              "ERROR: tally: SEGV on unknown address \\(pc 0x[0-9a-f]+ T0\\)\n"
              "    #0 0x[0-9a-f]+ in tally::\\(anonymous namespace\\)::follow_stale_link(.|\n)*"
              "HINT: register [a-z0-9]+ holds 0xdfdfdfdfdfdfdfdf, tally's poison of freed "
              "blocks(.|\n)*heap-use-after-free(.|\n)*"
              "SUMMARY: tally: SEGV .*follow_stale_link");
}

TEST(CheckedModeDeathTest, ACrashAtANonCanonicalAddressSaysItWasNotReported) {
  const int* link = reinterpret_cast<const int*>(uintptr_t{0x8000000000001234});
  EXPECT_EXIT(consume(follow_stale_link(&link)), testing::KilledBySignal(SIGSEGV),
              "ERROR: tally: SEGV on unknown address \\(pc 0x[0-9a-f]+ T0\\)\n"
              "    #0 0x[0-9a-f]+ in tally::\\(anonymous namespace\\)::follow_stale_link(.|\n)*"
              "HINT: the processor reported no address(.|\n)*SUMMARY: tally: SEGV ");
}

TEST(CheckedModeDeathTest, AWildCrashIsReportedWithoutAHint) {
  const int* link = reinterpret_cast<const int*>(uintptr_t{16});
  // The last frame is followed by the SUMMARY, no hint between them.
  EXPECT_EXIT(consume(follow_stale_link(&link)), testing::KilledBySignal(SIGSEGV),
              "ERROR: tally: SEGV on unknown address 0x10 \\(pc 0x[0-9a-f]+ T0\\)\n"
              "    #0 0x[0-9a-f]+ in tally::\\(anonymous namespace\\)::follow_stale_link"
              "(.|\n)*#[0-9]+ 0x[0-9a-f]+ [^\n]*\n\nSUMMARY: tally: SEGV ");
}

// A thread that only frees (a consumer) takes a heap of its own at its first free, so its
// frees batch into its own quarantine and reuse its stack memo instead of sharing the
// locked batch of heapless threads.
TEST(CheckedMode, AThreadThatOnlyFreesTakesAHeapOfItsOwn) {
  char* block = allocate_orders(100);
  bool had_heap_before = true, has_heap_after = false;
  std::thread consumer([&] {
    had_heap_before = t_heap != nullptr;
    release_orders(block);
    has_heap_after = t_heap != nullptr;
  });
  consumer.join();
  EXPECT_FALSE(had_heap_before);
  EXPECT_TRUE(has_heap_after);
}

// Safe mode's realloc (realloc_moves=0) keeps a block that has room; the canary follows the
// new size, and an overflow of the old size is still caught at the realloc.
TEST(CheckedModeDeathTest, ReallocInPlaceMovesTheCanaryAndChecksTheOldOne) {
  bool saved = g_safety.realloc_moves;
  g_safety.realloc_moves = false;
  size_t size = g_safety.guard_max_size + 1000;  // not guarded: an ordinary small block
  char* block = allocate_orders(size);
  char* same = static_cast<char*>(tally_realloc(block, size + 8));
  ASSERT_EQ(same, block) << "a block with room grew in place";
  EXPECT_EQ(tally_malloc_usable_size(same), size + 8);
  same[size + 8] = 'x';  // one past the new end: the canary moved there
  EXPECT_EXIT(release_orders(same), testing::ExitedWithCode(1),
              "ERROR: tally: heap-buffer-overflow(.|\n)*"
              "is located 0 bytes to the right of [0-9]+-byte region");
  EXPECT_EXIT(tally_realloc(same, size + 16), testing::ExitedWithCode(1),
              "ERROR: tally: heap-buffer-overflow(.|\n)*"
              "is located 0 bytes to the right of [0-9]+-byte region");
  same[size + 8] = static_cast<char>(kCanaryByte);
  release_orders(same);
  g_safety.realloc_moves = saved;
  quarantine_drain();
}

// Debug mode guards every small block, up to guard_rate guarded allocations per second and
// thread; past it the others are ordinary blocks (canaries, poison, quarantine), and the
// bucket fills again as time passes.
TEST(CheckedMode, GuardRateBoundsTheGuardedAllocationsPerSecond) {
  uint32_t saved_rate = g_safety.guard_rate;
  g_safety.guard_rate = 50;
  release_orders(allocate_orders(8));  // the thread has a heap from here on
  ASSERT_NE(t_heap, nullptr);
  t_heap->guard_tokens = 0;  // an empty bucket, just filled
  t_heap->guard_refilled_at = monotonic_milliseconds();
  constexpr int kBlocks = 200;
  char* blocks[kBlocks];
  int guarded = 0;
  for (char*& block : blocks) {
    block = allocate_orders(24);
    if (guard_pool_contains(reinterpret_cast<uintptr_t>(block))) ++guarded;
  }
  // The loop takes far less than the 20 ms that earn a token (a clock tick may add one).
  EXPECT_LE(guarded, 2);
  for (char* block : blocks) release_orders(block);
  usleep(200 * 1000);  // a fifth of a second: about 10 more
  int guarded_later = 0;
  for (char*& block : blocks) {
    block = allocate_orders(24);
    if (guard_pool_contains(reinterpret_cast<uintptr_t>(block))) ++guarded_later;
  }
  EXPECT_GE(guarded_later, 5);
  EXPECT_LE(guarded_later, 20);
  for (char* block : blocks) release_orders(block);
  g_safety.guard_rate = saved_rate;
  quarantine_drain();
}

// Safe mode's sampling: where a heap's first guarded allocation falls is drawn, not fixed.
// When every new heap guarded its first allocation, each thread's first block was guarded
// in every run, whatever the rate said. Threads alive at once take heaps of their own.
TEST(CheckedMode, ANewHeapsFirstAllocationIsSampledAtTheRateLikeAnyOther) {
  bool saved_guard_all = g_safety.guard_all;
  uint32_t saved_rate = g_safety.sample_rate;
  g_safety.guard_all = false;
  g_safety.sample_rate = 1000;
  constexpr int kThreads = 64;
  std::atomic<int> guarded{0}, started{0}, fresh_heaps{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (t_heap == nullptr) ++fresh_heaps;
      char* block = allocate_orders(40);
      if (guard_pool_contains(reinterpret_cast<uintptr_t>(block))) ++guarded;
      ++started;
      while (!done.load()) usleep(1000);  // keeps the heap from going to the next thread
      release_orders(block);
    });
  }
  while (started.load() < kThreads) usleep(1000);
  done = true;
  for (std::thread& thread : threads) thread.join();
  g_safety.guard_all = saved_guard_all;
  g_safety.sample_rate = saved_rate;
  quarantine_drain();
  EXPECT_EQ(fresh_heaps.load(), kThreads);
  // 64 draws at one in 1000: more than 4 guarded happens about once in 10^7 runs.
  EXPECT_LE(guarded.load(), 4);
}

// Safe mode's small allocations take a lane of their own (allocate_checked_small), which
// must count toward the next sampled guard like the general path: one allocation in about
// sample_rate is guarded, the gaps between one and a half and half the rate apart.
TEST(CheckedMode, SafeModeSamplesSmallAllocationsAtItsRate) {
  SafetyConfig saved = g_safety;
  g_safety.guard_all = false;
  g_safety.alloc_stacks = false;
  g_safety.lean_small_allocation = true;
  g_safety.sample_rate = 100;
  constexpr int kBlocks = 10000;
  std::vector<char*> blocks(kBlocks);
  int guarded = 0;
  for (char*& block : blocks) {
    block = allocate_orders(48);
    if (guard_pool_contains(reinterpret_cast<uintptr_t>(block))) ++guarded;
  }
  for (char* block : blocks) release_orders(block);
  g_safety = saved;
  quarantine_drain();
  EXPECT_GE(guarded, kBlocks / 151 - 1);
  EXPECT_LE(guarded, kBlocks / 51 + 1);
}

// A large block left accessible in quarantine (protect_large off here; in a busy program,
// the protection refused by the time budget) is poisoned over its first 64 KiB only: its
// pages are often not resident, and filling all of them faulted each in (20,000 frees of
// 0.3-2.3 MB blocks took 15.5 s, 8x valgrind's time). A write after free in that prefix is
// still found when the block leaves quarantine.
TEST(CheckedModeDeathTest, AnAccessibleQuarantinedLargeBlockIsPoisonedOver64KiB) {
  constexpr size_t kSize = size_t{1} << 20;
  ASSERT_EQ(g_safety.large_poison_max_bytes, size_t{64} << 10);
  bool saved = g_safety.protect_large;
  g_safety.protect_large = false;
  unsigned char* block = static_cast<unsigned char*>(tally_malloc(kSize));
  memset(block, 0x11, kSize);
  tally_free(block);
  // Reading freed memory is what this test is about; the quarantine keeps it mapped.
  for (size_t i = 0; i < (size_t{64} << 10); i += 4096) ASSERT_EQ(block[i], kPoisonByte) << i;
  for (size_t i = size_t{64} << 10; i < kSize; i += 4096) ASSERT_EQ(block[i], 0x11) << i;
  block[1000] = 'x';  // a write after free inside the poisoned prefix
  EXPECT_EXIT(quarantine_drain(), testing::ExitedWithCode(1),
              "ERROR: tally: heap-use-after-free on address 0x[0-9a-f]+");
  block[1000] = static_cast<unsigned char>(kPoisonByte);
  g_safety.protect_large = saved;
}

}  // namespace
}  // namespace tally
