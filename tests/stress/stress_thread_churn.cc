// Thread churn: 200 short-lived threads, 8 at a time, each allocating and freeing and then
// exiting while still holding some blocks. The main thread later checks and frees those.
// tally must reclaim and reuse what exited threads leave behind: the address space it maps
// stays bounded after the first wave.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::CheckPattern;
using tally_test::FillPattern;
using tally_test::Rng;

constexpr int kTotalThreads = 200;
constexpr int kWaveSize = 8;
constexpr int kSlots = 256;
constexpr int kOperations = 6000;
constexpr int kLeftPerThread = 16;
constexpr size_t kMappedGrowthLimit = size_t{64} << 20;

struct Block {
  void* pointer;
  size_t size;
  uint64_t salt;
};

struct Leftovers {
  std::mutex mutex;
  std::vector<Block> blocks;
  std::atomic<size_t> corrupt{0};
  std::atomic<size_t> failed{0};
};

size_t RandomSize(Rng& rng) {
  unsigned bucket = static_cast<unsigned>(rng.Next() % 100);
  if (bucket < 80) return rng.Range(16, 512);
  if (bucket < 98) return rng.Range(513, 8192);
  return rng.Range(8193, 256 * 1024);
}

void ChurnThread(int index, Leftovers& leftovers) {
  Rng rng(static_cast<uint64_t>(index) * 7919 + 3);
  Block slots[kSlots] = {};
  for (int op = 0; op < kOperations; ++op) {
    Block& slot = slots[rng.Next() % kSlots];
    if (slot.pointer != nullptr) {
      if (!CheckPattern(slot.pointer, slot.size, slot.salt)) leftovers.corrupt.fetch_add(1);
      free(slot.pointer);
      slot.pointer = nullptr;
    } else {
      slot.size = RandomSize(rng);
      slot.salt = static_cast<uint64_t>(index) << 32 | static_cast<uint64_t>(op);
      slot.pointer = malloc(slot.size);
      if (slot.pointer == nullptr) {
        leftovers.failed.fetch_add(1);
        continue;
      }
      FillPattern(slot.pointer, slot.size, slot.salt);
    }
  }
  // Exit holding some blocks: hand them to the main thread, free the rest.
  std::vector<Block> kept;
  for (Block& slot : slots) {
    if (slot.pointer == nullptr) continue;
    if (static_cast<int>(kept.size()) < kLeftPerThread) {
      kept.push_back(slot);
    } else {
      if (!CheckPattern(slot.pointer, slot.size, slot.salt)) leftovers.corrupt.fetch_add(1);
      free(slot.pointer);
    }
  }
  std::lock_guard<std::mutex> lock(leftovers.mutex);
  leftovers.blocks.insert(leftovers.blocks.end(), kept.begin(), kept.end());
}

TEST(StressThreadChurn, ExitedThreadsMemoryIsReused) {
  const tally_stats start = tally_test::Stats();
  Leftovers leftovers;
  leftovers.blocks.reserve(kTotalThreads * kLeftPerThread);
  tally_stats after_first_wave{};
  tally_stats halfway{};
  size_t peak_mapped = 0;
  for (int first = 0; first < kTotalThreads; first += kWaveSize) {
    std::vector<std::thread> wave;
    for (int i = first; i < first + kWaveSize && i < kTotalThreads; ++i) {
      wave.emplace_back(ChurnThread, i, std::ref(leftovers));
    }
    for (std::thread& thread : wave) thread.join();
    tally_stats now = tally_test::Stats();
    if (first == 0) after_first_wave = now;
    if (first / kWaveSize == kTotalThreads / kWaveSize / 2) halfway = now;
    peak_mapped = std::max(peak_mapped, now.bytes_mapped);
  }
  const tally_stats end = tally_test::Stats();

  EXPECT_EQ(leftovers.failed.load(), 0u) << "allocations failed";
  EXPECT_EQ(leftovers.corrupt.load(), 0u) << "blocks corrupted while their thread was alive";

  // The blocks left by exited threads are intact and can be freed by this thread.
  size_t corrupt_leftovers = 0;
  for (const Block& block : leftovers.blocks) {
    if (!CheckPattern(block.pointer, block.size, block.salt)) ++corrupt_leftovers;
    free(block.pointer);
  }
  EXPECT_EQ(corrupt_leftovers, 0u) << "of " << leftovers.blocks.size() << " leftover blocks";
  EXPECT_GT(leftovers.blocks.size(), static_cast<size_t>(kTotalThreads));
  leftovers.blocks = std::vector<Block>();

  if (!tally_test::TallyPresent()) {
    GTEST_SKIP() << "not tally: bytes_mapped check skipped";
  }
  printf("bytes_mapped: start %zu MiB, after first wave %zu MiB, peak %zu MiB, end %zu MiB\n",
         start.bytes_mapped >> 20, after_first_wave.bytes_mapped >> 20, peak_mapped >> 20,
         end.bytes_mapped >> 20);
  // In safe and debug modes freed blocks wait in quarantine (a quarter of the live heap in
  // safe mode, 64 to 256 MiB in debug mode) and pin the pages they sit in: the first waves may
  // grow more. And every segment carries a reservation for its block records as big as
  // itself, so the same number of segments maps twice the bytes: the limits count segments.
  // Not reusing exited threads' memory would add about eight heaps' pages per wave (over
  // 60 MiB of segments each time), far past these limits.
  const size_t per_segment_factor = tally_test::CheckedMode() ? 2 : 1;
  const size_t first_wave_allowance = tally_test::CheckedMode()
                                          ? 2 * (kMappedGrowthLimit + 2 * (size_t{64} << 20))
                                          : kMappedGrowthLimit;
  EXPECT_LE(end.bytes_mapped, after_first_wave.bytes_mapped + first_wave_allowance)
      << "the memory of exited threads is not reused";
  EXPECT_LE(peak_mapped, after_first_wave.bytes_mapped + first_wave_allowance);
  EXPECT_LE(end.bytes_mapped, halfway.bytes_mapped + per_segment_factor * kMappedGrowthLimit)
      << "mapped memory still grows in the second half of the churn: "
      << (halfway.bytes_mapped >> 20) << " MiB halfway";
  // Everything is freed: the live bytes of the exited threads were handed back.
  const tally_stats freed = tally_test::Stats();
  EXPECT_LE(freed.bytes_live, start.bytes_live + (size_t{2} << 20))
      << "bytes_live " << start.bytes_live << " -> " << freed.bytes_live;
  EXPECT_EQ(freed.bad_frees, start.bad_frees);
}

}  // namespace
