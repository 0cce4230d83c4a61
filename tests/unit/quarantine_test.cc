// The quarantine: first in, first out, bounded in bytes, per-thread batches spilling to
// the global FIFO, and blocks held back really are not reused. Runs in mode=safe.
#include "safety/quarantine.h"

#include <gtest/gtest.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/segment.h"
#include "os/memory.h"
#include "os/process.h"
#include "report/error_report.h"
#include "resident_pages.h"
#include "safety/safety_config.h"
#include "tally.h"

namespace tally {
namespace {

std::vector<uintptr_t> g_released;
void record_release(const uintptr_t* blocks, uint32_t count) {
  g_released.insert(g_released.end(), blocks, blocks + count);
}

class QuarantineTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(g_safety.quarantine) << "run with TALLY_OPTIONS=mode=safe";
    tally_free(tally_malloc(1));  // this thread gets its heap
    quarantine_drain();           // whatever the runtime held so far leaves through its own hook
    saved_ = g_safety;
    saved_release_ = quarantine_release();
    quarantine_set_release(record_release);
    g_released.clear();
  }
  void TearDown() override {
    quarantine_drain();
    g_safety = saved_;
    quarantine_set_release(saved_release_);
  }
  SafetyConfig saved_;
  QuarantineRelease saved_release_ = nullptr;
};

TEST_F(QuarantineTest, BlocksLeaveFirstInFirstOutOncePastTheBound) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = 1000;
  g_safety.thread_quarantine_bytes = 100;  // every 100 bytes the batch goes global
  Heap* heap = t_heap;
  ASSERT_NE(heap, nullptr);
  for (uintptr_t block = 1; block <= 100; ++block) quarantine_put(heap, block * 16, 50);
  // 5000 bytes went in; at most the bound (plus one batch) is still held.
  EXPECT_LE(quarantine_bytes_held(), 1000u + 100u);
  ASSERT_FALSE(g_released.empty());
  for (size_t i = 0; i < g_released.size(); ++i) EXPECT_EQ(g_released[i], (i + 1) * 16) << i;
  quarantine_drain();
  EXPECT_EQ(g_released.size(), 100u);
  EXPECT_EQ(quarantine_bytes_held(), 0u);
}

TEST_F(QuarantineTest, ThreadsWithoutAHeapQuarantineToo) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = size_t{1} << 30;
  quarantine_put(nullptr, 0x1230, 64);
  EXPECT_TRUE(g_released.empty());
  quarantine_drain();
  ASSERT_EQ(g_released.size(), 1u);
  EXPECT_EQ(g_released[0], 0x1230u);
}

TEST_F(QuarantineTest, ExitingThreadsHandTheirBatchOver) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = size_t{1} << 30;
  g_safety.thread_quarantine_bytes = size_t{1} << 30;
  std::thread worker([] {
    tally_free(tally_malloc(8));  // the worker gets a heap
    quarantine_put(t_heap, 0x4560, 64);
  });
  worker.join();
  EXPECT_TRUE(g_released.empty());
  quarantine_drain();
  EXPECT_EQ(std::count(g_released.begin(), g_released.end(), 0x4560u), 1);
}

std::vector<std::thread::id> g_releasers;
void record_release_and_thread(const uintptr_t* blocks, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    g_released.push_back(blocks[i]);
    g_releasers.push_back(std::this_thread::get_id());
  }
}

// An expired batch of another live thread goes back to it (its blocks are its own, so
// releasing them there makes local frees); while it has not taken one back, the next ones
// are released by whoever expires them.
TEST_F(QuarantineTest, ExpiredBatchesOfALiveThreadAreReleasedByIt) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = 1000;
  g_safety.thread_quarantine_bytes = 100;
  quarantine_set_release(record_release_and_thread);
  g_releasers.clear();
  std::atomic<int> step{0};
  std::thread::id worker_id;
  void* kept = nullptr;
  std::thread worker([&] {
    // The worker gets a heap; the block is kept, since freed it would join the counted FIFO.
    kept = tally_malloc(8);
    worker_id = std::this_thread::get_id();
    for (uintptr_t block = 1; block <= 4; ++block)
      quarantine_put(t_heap, 0x100000 + block * 16, 50);
    step.store(1);
    while (step.load() != 2) std::this_thread::yield();
    quarantine_flush_heap(t_heap);  // takes back what was handed to it
    step.store(3);
  });
  while (step.load() != 1) std::this_thread::yield();
  // This thread's frees push the worker's two published batches out of the FIFO.
  for (uintptr_t block = 1; block <= 60; ++block) quarantine_put(t_heap, 0x200000 + block * 16, 50);
  size_t worker_blocks_released_here = 0;
  for (uintptr_t block : g_released) worker_blocks_released_here += block < 0x200000;
  // The first of its batches was handed back; the second found one still waiting there.
  EXPECT_EQ(worker_blocks_released_here, 2u);
  step.store(2);
  while (step.load() != 3) std::this_thread::yield();
  worker.join();
  size_t released_by_worker = 0;
  for (size_t i = 0; i < g_released.size(); ++i) {
    if (g_releasers[i] != worker_id) continue;
    EXPECT_LT(g_released[i], 0x200000u);
    ++released_by_worker;
  }
  EXPECT_EQ(released_by_worker, 2u);
  quarantine_drain();
  EXPECT_EQ(std::count_if(g_released.begin(), g_released.end(),
                          [](uintptr_t block) { return block < 0x200000; }),
            4);
  tally_free(kept);
}

// The check at exit verifies every held block and releases none: freeing them would only
// write to pages the process is about to drop.
TEST_F(QuarantineTest, TheCheckAtExitVerifiesAndKeepsEverything) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = size_t{1} << 30;
  g_safety.thread_quarantine_bytes = 100;
  for (uintptr_t block = 1; block <= 5; ++block) quarantine_put(t_heap, block * 16, 50);
  quarantine_put(nullptr, 0x1230, 64);  // the heapless batch
  size_t held = quarantine_bytes_held();
  quarantine_verify_held(record_release);
  // The thread's batch and the heapless one went global; nothing left.
  size_t held_after = quarantine_bytes_held();
  EXPECT_GE(held_after, held);
  std::vector<uintptr_t> verified = g_released;
  std::sort(verified.begin(), verified.end());
  EXPECT_EQ(verified, (std::vector<uintptr_t>{16, 32, 48, 64, 80, 0x1230}));
  g_released.clear();
  quarantine_verify_held(record_release);  // again: the same blocks, still held
  EXPECT_EQ(g_released.size(), 6u);
  EXPECT_EQ(quarantine_bytes_held(), held_after);
  g_released.clear();
  quarantine_drain();
  EXPECT_EQ(g_released.size(), 6u);
  EXPECT_EQ(quarantine_bytes_held(), 0u);
}

// A forked child verifies at exit only what it freed itself: the parent checks its own
// copy of the rest, and reading every inherited block cost a shell 10 ms a subshell.
TEST_F(QuarantineTest, AForkedChildVerifiesOnlyWhatItFreed) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = size_t{1} << 30;
  g_safety.thread_quarantine_bytes = 100;
  for (uintptr_t block = 1; block <= 3; ++block) quarantine_put(t_heap, block * 16, 50);
  quarantine_put(t_heap, 0x4000, 10);  // left in the thread's unpublished batch
  fflush(nullptr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    quarantine_put(t_heap, 0x5000, 10);  // the same batch, after the parent's block
    quarantine_put(nullptr, 0x6000, 10);
    quarantine_verify_held(record_release);
    std::sort(g_released.begin(), g_released.end());
    _exit(g_released == std::vector<uintptr_t>{0x5000, 0x6000} ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child verified blocks it did not free";
  quarantine_verify_held(record_release);  // the parent still verifies all of its own
  EXPECT_EQ(g_released.size(), 4u);
}

// The check at exit takes the thread's unpublished batch into the FIFO without a publish:
// a publish past the bound would release the oldest blocks, writing to them (and in a
// forked child copying the parent's pages) while the process is about to drop them.
TEST_F(QuarantineTest, TheCheckAtExitReleasesNothingEvenPastTheBound) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = 100;
  g_safety.thread_quarantine_bytes = size_t{1} << 30;  // everything stays in the thread's batch
  for (uintptr_t block = 1; block <= 20; ++block) quarantine_put(t_heap, block * 16, 50);
  ASSERT_TRUE(g_released.empty());
  std::vector<uintptr_t> verified;
  static std::vector<uintptr_t>* s_verified;
  s_verified = &verified;
  quarantine_verify_held([](const uintptr_t* blocks, uint32_t count) {
    s_verified->insert(s_verified->end(), blocks, blocks + count);
  });
  EXPECT_EQ(verified.size(), 20u);
  EXPECT_TRUE(g_released.empty()) << "the check at exit released " << g_released.size()
                                  << " blocks";
}

// A forked child's check at exit reads the batches it inherited but writes none of them:
// each write copies a page the parent shares. Counted in minor page faults, which a copy
// on write costs: 400 inherited batches took 400 of them.
TEST_F(QuarantineTest, AForkedChildsCheckCopiesNoInheritedBatch) {
  g_safety.quarantine_min_bytes = g_safety.quarantine_max_bytes = size_t{1} << 30;
  g_safety.thread_quarantine_bytes = 100;  // a batch of two blocks goes global
  constexpr uintptr_t kBlocks = 800;       // 400 batches, a page each
  for (uintptr_t block = 1; block <= kBlocks; ++block) quarantine_put(t_heap, block * 16, 50);
  fflush(nullptr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    quarantine_verify_held(record_release);
    getrusage(RUSAGE_SELF, &after);
    long faults = after.ru_minflt - before.ru_minflt;
    _exit(faults < 40 ? 0 : static_cast<int>(faults < 250 ? faults : 250));
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's check took " << WEXITSTATUS(status)
                                    << " page faults (copies of inherited batches)";
}

TEST(QuarantineReuse, FreedBlocksAreNotReusedWhileQuarantined) {
  ASSERT_TRUE(g_safety.quarantine);
  std::set<void*> freed;
  for (int i = 0; i < 1000; ++i) {
    void* block = tally_malloc(48);
    freed.insert(block);
    tally_free(block);
  }
  for (int i = 0; i < 1000; ++i) {
    void* block = tally_malloc(48);
    EXPECT_EQ(freed.count(block), 0u) << "a quarantined block was handed out again";
    tally_free(block);
  }
}

TEST(QuarantineReuse, FreedBlocksArePoisoned) {
  ASSERT_TRUE(g_safety.poison);
  uint32_t saved_rate = g_safety.sample_rate;
  g_safety.sample_rate = 0;  // a guarded block would fault on the read below
  unsigned char* block = static_cast<unsigned char*>(tally_malloc(100));
  memset(block, 0x11, 100);
  tally_free(block);
  // Reading freed memory is the bug this test stands for; the quarantine keeps it mapped.
  for (int i = 0; i < 100; ++i) ASSERT_EQ(block[i], kPoisonByte) << i;
  g_safety.sample_rate = saved_rate;
}

// Safe mode poisons the first poison_max_bytes (4 KiB) of a freed block: filling and
// verifying more would cost as much as the program's own use of a big block.
TEST(QuarantineReuse, PoisonCoversTheBoundedPrefixOfBigBlocks) {
  ASSERT_EQ(g_safety.poison_max_bytes, size_t{4096});
  uint32_t saved_rate = g_safety.sample_rate;
  g_safety.sample_rate = 0;
  constexpr size_t kSize = 20000;
  unsigned char* block = static_cast<unsigned char*>(tally_malloc(kSize));
  memset(block, 0x11, kSize);
  tally_free(block);
  for (size_t i = 0; i < 4096; ++i) ASSERT_EQ(block[i], kPoisonByte) << i;
  for (size_t i = 4096; i < kSize; ++i) ASSERT_EQ(block[i], 0x11) << i;
  g_safety.sample_rate = saved_rate;
}

// The quarantine word of a small block, and the block's bit in it.
std::atomic<uint64_t>& claim_word(void* block, uint64_t* bit) {
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  Page* page = page_of(segment_of(address), address);
  uint32_t index = block_index_of(page, address);
  *bit = uint64_t{1} << (index & 63);
  return page->quarantine_bits[index >> 6];
}

bool claimed(void* block) {
  uint64_t bit;
  return (claim_word(block, &bit).load() & bit) != 0;
}

// A released batch drops its blocks' claims in bulk, one atomic AND per bitmap word: after
// the release none is left, or the next free of each block would be reported as double.
TEST(QuarantineReuse, ReleasedBlocksKeepNoClaim) {
  uint32_t saved_rate = g_safety.sample_rate;
  g_safety.sample_rate = 0;
  std::vector<void*> blocks;
  for (int i = 0; i < 300; ++i) blocks.push_back(tally_malloc(i % 2 ? 48 : 80));
  for (void* block : blocks) tally_free(block);
  for (void* block : blocks) ASSERT_TRUE(claimed(block));
  quarantine_drain();
  for (void* block : blocks) EXPECT_FALSE(claimed(block)) << block;
  g_safety.sample_rate = saved_rate;
}

// Takes 48-byte blocks until `block` comes back (nullptr if it does not); the others taken
// go to `taken`.
void* allocate_until(void* block, std::vector<void*>* taken) {
  for (int i = 0; i < 100000; ++i) {
    void* next = tally_malloc(48);
    if (next == block) return next;
    taken->push_back(next);
  }
  return nullptr;
}

// Blocks that no sampled guard slot takes, for tests that look at pages' bitmaps.
struct NoGuardSampling {
  uint32_t saved = g_safety.sample_rate;
  NoGuardSampling() { g_safety.sample_rate = 0; }
  ~NoGuardSampling() { g_safety.sample_rate = saved; }
};

// A 48-byte block freed and released, then claimed again: as a release leaves it until its
// table drops the claim, or as a free racing the release claims it.
void* released_block_claimed_again(std::atomic<uint64_t>** claims, uint64_t* bit) {
  void* block = tally_malloc(48);
  tally_free(block);
  quarantine_drain();
  *claims = &claim_word(block, bit);
  (*claims)->fetch_or(*bit);
  return block;
}

// A fork while another thread is in the middle of a release: the release's claims, freed
// blocks whose claims wait in its table to be dropped a word at a time, are dropped in the
// child (the thread that would have is gone), so the blocks come back unclaimed and their
// next frees are not taken for double frees. The test plays the interrupted release: a
// table of drops registered with this thread's heap, as a release registers its own.
TEST(QuarantineReuse, AForkedChildDropsTheClaimsOfAReleaseItInterrupted) {
  NoGuardSampling no_sampling;
  uint64_t bit;
  std::atomic<uint64_t>* claims;
  void* block = released_block_claimed_again(&claims, &bit);
  ClaimDrops drops;
  drops.add(claims, bit);
  drops.outer = t_heap->claim_drops_under_way;
  t_heap->claim_drops_under_way = &drops;
  fflush(nullptr);
  pid_t child = fork();
  if (child == 0) {
    if (claimed(block)) _exit(3);
    std::vector<void*> taken;
    void* again = allocate_until(block, &taken);
    if (again != block) _exit(2);
    tally_free(again);  // a double-free report here ends the child with status 1
    for (void* other : taken) tally_free(other);
    _exit(0);
  }
  t_heap->claim_drops_under_way = drops.outer;
  drops.drop_all();
  ASSERT_GE(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: the child kept the claim; 2: the block did not come "
                                       "back; 1: its next free was reported as double";
  EXPECT_FALSE(claimed(block));
}

// Outside a fork, a claim on a free block is a free racing the release: it claimed the block
// just after the release dropped the claim, and has yet to read the maps again. The
// allocation that hands the block out leaves that claim, so that the racing free either
// finds the block free (and reports itself) or quarantines it claimed, and the new owner's
// free of it is reported as double. Dropped by the allocation, the racing free quarantined
// a live block with no claim, and the new owner's free quarantined it a second time.
TEST(QuarantineReuse, AnAllocationLeavesTheClaimOfAFreeRacingTheRelease) {
  NoGuardSampling no_sampling;
  uint64_t bit;
  std::atomic<uint64_t>* claims;
  void* block = released_block_claimed_again(&claims, &bit);
  std::vector<void*> taken;
  void* again = allocate_until(block, &taken);
  ASSERT_EQ(again, block) << "the freed block did not come back";
  EXPECT_TRUE(claimed(again)) << "the allocation dropped a racing free's claim";
  claims->fetch_and(~bit);  // the racing free gives it up: the test plays its part
  tally_free(again);
  for (void* other : taken) tally_free(other);
}

bool block_is_live(void* block) {
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  Page* page = page_of(segment_of(address), address);
  return page_is_live(page, block_index_of(page, address));
}

bool in_remote_map(void* block) {
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  Page* page = page_of(segment_of(address), address);
  uint32_t index = block_index_of(page, address);
  return (page->remote_bits[index >> 6].load() >> (index & 63)) & 1;
}

// A release from another thread's quarantine puts the block in the owner's remote map with
// its claim still held, and the owner's harvest drops the claim: the block is never live
// (no bit at all) during the release. A release that dropped the claim first left a moment
// where a double free could claim the block again and quarantine it a second time, to free
// it once more after it had been handed out to a new owner.
TEST(QuarantineReuse, AReleaseIntoAnotherThreadsPageKeepsTheClaimUntilTheOwnerHarvests) {
  NoGuardSampling no_sampling;
  std::vector<void*> blocks;
  blocks.reserve(200);
  tally_stats before;
  tally_get_stats(&before);
  for (int i = 0; i < 200; ++i) blocks.push_back(tally_malloc(48));
  std::thread releaser([&] {
    for (void* block : blocks) tally_free(block);
    quarantine_drain();
  });
  releaser.join();
  for (void* block : blocks) {
    ASSERT_TRUE(in_remote_map(block)) << block;
    EXPECT_TRUE(claimed(block)) << "released, not yet harvested, and no claim: " << block;
  }
  // Such a block is counted once, as freed by another thread: neither live nor quarantined.
  tally_stats released;
  tally_get_stats(&released);
  EXPECT_EQ(released.bytes_live, before.bytes_live);
  EXPECT_EQ(released.bytes_quarantined, before.bytes_quarantined);
  // Allocating until one of them comes back runs the harvest of its page; the others of
  // that page are free from then on, with no claim left on them.
  std::set<void*> original(blocks.begin(), blocks.end());
  std::set<void*> taken;
  void* back = nullptr;
  for (int i = 0; i < 200000 && !back; ++i) {
    void* block = tally_malloc(48);
    if (original.count(block)) back = block;
    taken.insert(block);
  }
  ASSERT_NE(back, nullptr) << "none of the released blocks came back";
  uintptr_t back_address = reinterpret_cast<uintptr_t>(back);
  Page* harvested = page_of(segment_of(back_address), back_address);
  int checked = 0;
  for (void* block : blocks) {
    uintptr_t address = reinterpret_cast<uintptr_t>(block);
    if (taken.count(block) || page_of(segment_of(address), address) != harvested) continue;
    EXPECT_FALSE(in_remote_map(block)) << block;
    EXPECT_FALSE(claimed(block)) << "harvested, free, and still claimed: " << block;
    ++checked;
  }
  EXPECT_GT(checked, 0);
  for (void* block : taken) tally_free(block);
}

// Double frees racing another thread's release of the same blocks from its quarantine:
// every one is reported, none is quarantined as a first free. One that was would be
// released later, after the owner has been handed the block again, and free the owner's
// live block: the owner allocates between the double frees and the drain that would
// release such an entry, and its blocks must all be live after it. (A smoke test: the
// windows it guards are a few instructions wide, so it catches a regression only now and
// then, a wrong report count at once; the deterministic tests above pin each rule down.)
TEST(QuarantineReuse, DoubleFreesRacingAReleaseAreAllReported) {
  NoGuardSampling no_sampling;
  report_set_policy({false, 1});
  constexpr int kRounds = 100;
  constexpr int kBlocks = 32;
  size_t reports_before = report_count();
  testing::internal::CaptureStderr();
  int freed_under_the_owner = 0;
  std::vector<void*> owned;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<void*> blocks;
    for (int i = 0; i < kBlocks; ++i) blocks.push_back(tally_malloc(48));
    std::atomic<bool> freed{false};
    std::thread releaser([&] {
      for (void* block : blocks) tally_free(block);
      freed.store(true);
      quarantine_drain();
    });
    std::thread double_freer([&] {
      while (!freed.load()) {
      }
      for (void* block : blocks) tally_free(block);
    });
    releaser.join();
    double_freer.join();  // its batch, with any entry it should not hold, goes to the FIFO
    // The owner takes blocks (harvesting the released ones) and keeps them while the
    // quarantine is drained.
    owned.clear();
    for (int i = 0; i < 4 * kBlocks; ++i) owned.push_back(tally_malloc(48));
    quarantine_drain();
    for (void* block : owned) freed_under_the_owner += !block_is_live(block);
    for (void* block : owned) tally_free(block);
  }
  quarantine_drain();
  std::string output = testing::internal::GetCapturedStderr();
  size_t reports = report_count() - reports_before;
  report_set_policy({true, 1});
  size_t double_frees = 0;
  for (size_t at = output.find("ERROR: tally: attempting double-free"); at != std::string::npos;
       at = output.find("ERROR: tally: attempting double-free", at + 1))
    ++double_frees;
  EXPECT_EQ(freed_under_the_owner, 0) << "live blocks freed by a second quarantine entry";
  EXPECT_EQ(reports, size_t{kRounds} * kBlocks);
  EXPECT_EQ(double_frees, size_t{kRounds} * kBlocks) << output.substr(0, 4000);
}

// Threads that free a burst and exit leave their last batches in the global FIFO; other
// threads release them later, into the exited threads' pages. Those pages must be
// collected and the quarantine's bound, a share of the live heap, must not count them as
// live: the bound grew with the stranded blocks, and 1000 such threads left a process that
// went on with one thread and 200 KB live holding a 164 MiB quarantine and 870 MB of RSS.
TEST(QuarantineReuse, ThreadsThatExitLeaveNoQuarantineBehind) {
  constexpr int kThreads = 300;
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &finished] {
      void* blocks[64];
      for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 64; ++i) {
          blocks[i] = tally_malloc(16 + (t * 7 + i * 13) % 500);
          memset(blocks[i], 1, 16);
        }
        for (void* block : blocks) tally_free(block);
      }
      // All alive at once, as the workers of a server: none adopts another's heap.
      finished.fetch_add(1);
      while (finished.load() < kThreads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  for (std::thread& thread : threads) thread.join();
  // The program goes on with one thread: the heaps' estimates of live bytes fall back to
  // what is live (their stranded blocks collected), and the quarantine to its floor. (How
  // much the threads left at first depends on how they were scheduled.)
  constexpr size_t kFewLiveBytes = size_t{16} << 20;
  const size_t floor = g_safety.quarantine_min_bytes + (1 << 20);
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    for (int i = 0; i < 1000; ++i) {
      char* block = static_cast<char*>(tally_malloc(64 + i % 200));
      block[0] = 1;
      tally_free(block);
    }
    if (quarantine_bytes_held() <= floor && g_live_estimate.load() <= kFewLiveBytes) break;
  }
  EXPECT_LE(g_live_estimate.load(), kFewLiveBytes) << "the heaps' estimate of live bytes";
  EXPECT_LE(quarantine_bytes_held(), floor) << "quarantined bytes after the threads exited (floor "
                                            << g_safety.quarantine_min_bytes << ")";
}

// With batches of many threads in the FIFO, each thread's share of the bound is what holds
// its own frees back: past it, its oldest batch goes back to it. Without the share, a
// thread's blocks came back only once the whole FIFO turned over, so 1000 threads that each
// freed a burst and waited held 1.1 GB instead of 525 MB, all of it fresh pages.
TEST(QuarantineReuse, WithManyThreadsEachFreesWithinItsShare) {
  constexpr int kThreads = 64;
  std::atomic<int> ready{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<void*> blocks;
      for (int i = 0; i < 600; ++i) blocks.push_back(tally_malloc(256));
      for (void* block : blocks) tally_free(block);
      ready.fetch_add(1);
      while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  while (ready.load() < kThreads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // 20,000 blocks of 48 bytes freed one after the other (940 KiB): alone, the thread would
  // get none of them back within the bound (4 MiB); with 65 sharing it, within 64-128 KiB.
  std::set<void*> distinct;
  for (int i = 0; i < 20000; ++i) {
    void* block = tally_malloc(48);
    distinct.insert(block);
    tally_free(block);
  }
  done.store(true);
  for (std::thread& thread : threads) thread.join();
  EXPECT_LT(distinct.size(), 10000u) << "blocks this thread got back from its own frees";
}

// A realloc that must move a large block (past its reservation) moves its pages, as in
// debug mode, though safe mode leaves freed large blocks accessible: a copy kept the old
// block's pages resident in the quarantine beside the new ones (a buffer grown by doubling
// peaked at twice fast mode's memory).
TEST(QuarantineLargeBlocks, AReallocThatMovesALargeBlockTakesItsPagesAlong) {
  constexpr size_t kMiB = size_t{1} << 20;
  constexpr size_t kOld = 16 * kMiB;
  constexpr size_t kNew = 48 * kMiB;
  unsigned char* block = static_cast<unsigned char*>(tally_malloc(kOld));
  ASSERT_NE(block, nullptr);
  for (size_t at = 0; at < kOld; at += 4096) block[at] = static_cast<unsigned char>(at >> 12);
  size_t resident_before = process_resident_bytes();
  unsigned char* moved = static_cast<unsigned char*>(tally_realloc(block, kNew));
  ASSERT_NE(moved, nullptr);
  ASSERT_NE(moved, block) << "grew in place: the test needs a move";
  size_t resident_after = process_resident_bytes();
  size_t grown = resident_after > resident_before ? resident_after - resident_before : 0;
  EXPECT_LT(grown, 4 * kMiB) << "a copy leaves the old pages resident too: " << grown / kMiB
                             << " MiB more";
  size_t wrong = 0;
  for (size_t at = 0; at < kOld; at += 4096)
    wrong += moved[at] != static_cast<unsigned char>(at >> 12);
  EXPECT_EQ(wrong, 0u);
  // The old range holds no page any more (it is an inaccessible husk in the quarantine).
  std::vector<uint8_t> resident(kOld / 4096);
  if (os_resident_pages(block, kOld, resident.data())) {
    size_t backed = 0;
    for (uint8_t page : resident) backed += page & 1;
    EXPECT_EQ(backed, 0u);
  }
  tally_free(moved);
}

// The large-block tests below start from an empty cache of freed large blocks (a
// reservation an earlier test left there could take a block and its growth) and a block of
// `bytes` filled with `fill`.
char* large_block_on_empty_cache(size_t bytes, char fill) {
  quarantine_drain();
  large_trim_cache();
  char* block = static_cast<char*>(tally_malloc(bytes));
  if (block) memset(block, fill, bytes);
  return block;
}

// Pages of [block, +bytes) whose first byte is not `fill`.
size_t pages_without(const char* block, size_t bytes, char fill) {
  size_t wrong = 0;
  for (size_t at = 0; at < bytes; at += 4096) wrong += block[at] != fill;
  return wrong;
}

// A move takes its new reservation from the cache of freed large blocks when one there is
// big enough, as an allocation does: the husks of earlier moves end up in the cache, and
// a fresh mapping for every move left them there while the process grew (a buffer grown
// from 300 KiB to 6 MiB and freed, 200 times over, peaked at 39 MiB in debug mode, now 13).
TEST(QuarantineLargeBlocks, AMoveTakesItsReservationFromTheCache) {
  constexpr size_t kMiB = size_t{1} << 20;
  constexpr size_t kFirst = 9 * kMiB;   // at or past kSafeModeMovesPagesFrom: moved
  constexpr size_t kGrown = 24 * kMiB;  // past the first reservation: it must move
  char* block = large_block_on_empty_cache(kFirst, 1);
  ASSERT_NE(block, nullptr);
  char* grown = static_cast<char*>(tally_realloc(block, kGrown));
  ASSERT_NE(grown, nullptr);
  ASSERT_NE(grown, block) << "grew in place: the test needs a move";
  tally_free(grown);
  quarantine_drain();  // the husk and the grown block reach the cache
  // Again: the allocation takes the smallest cached reservation (the husk's), and the move
  // the one the grown block left, rather than a fresh mapping.
  char* again = static_cast<char*>(tally_malloc(kFirst));
  ASSERT_NE(again, nullptr);
  memset(again, 2, kFirst);
  char* grown_again = static_cast<char*>(tally_realloc(again, kGrown));
  ASSERT_NE(grown_again, nullptr);
  ASSERT_NE(grown_again, again) << "grew in place: the test needs a move";
  EXPECT_EQ(grown_again, grown) << "the move mapped a fresh reservation";
  EXPECT_EQ(pages_without(grown_again, kFirst, 2), 0u)
      << "pages of the moved block lost their contents";
  tally_free(grown_again);
  quarantine_drain();
}

// A moved block keeps its whole reservation as one mapping, so that after growing in place
// it can move again. The moved pages formed one mapping and the rest of the reservation
// another; the block spanned both once it grew, its next move (which needs one mapping)
// fell back to a copy, and a buffer grown by 32 KiB steps to 54 MB alternated copies and
// moves, peaking at 187 MiB (fast mode: 57). Growth past the reservation makes it 1.5x, so
// the block grows in place to 18 MiB after its first move.
TEST(QuarantineLargeBlocks, AMovedBlockThatGrewInPlaceMovesAgain) {
  constexpr size_t kMiB = size_t{1} << 20;
  char* block = large_block_on_empty_cache(9 * kMiB, 1);
  ASSERT_NE(block, nullptr);
  char* moved = static_cast<char*>(tally_realloc(block, 13 * kMiB));  // past 12 MiB: moves
  ASSERT_NE(moved, nullptr);
  ASSERT_NE(moved, block) << "grew in place: the test needs a move";
  // Within the new reservation: 20 MiB, 1.5x the 12 it left (16 without that rule).
  char* grown = static_cast<char*>(tally_realloc(moved, 18 * kMiB));
  ASSERT_EQ(grown, moved) << "the moved block's reservation had no room to grow in place";
  memset(grown + 13 * kMiB, 2, 5 * kMiB);
  char* again = static_cast<char*>(tally_realloc(grown, 33 * kMiB));
  ASSERT_NE(again, nullptr);
  ASSERT_NE(again, grown) << "grew in place: the test needs a move";
  EXPECT_EQ(again[0], 1);
  EXPECT_EQ(again[18 * kMiB - 1], 2);
  // Moved, its old range holds no page; copied, it would hold all 18 MiB (poisoned in the
  // quarantine).
  EXPECT_EQ(resident_pages(grown, 18 * kMiB), 0u)
      << "pages left behind: the second move was a copy";
  tally_free(again);
  quarantine_drain();
}

// A block the program split into several mappings (here by mprotect) cannot move its pages
// and is copied; the refusal is known before a cached reservation is taken for the move, so
// the copy gets it. (Found after the move had taken one: the refusal unmapped it, and the
// copy mapped a fresh one.)
TEST(QuarantineLargeBlocks, ABlockThatCannotMoveIsCopiedIntoTheCachedReservation) {
  constexpr size_t kMiB = size_t{1} << 20;
  char* block = large_block_on_empty_cache(9 * kMiB, 3);
  ASSERT_NE(block, nullptr);
  char* cached = static_cast<char*>(tally_malloc(30 * kMiB));
  ASSERT_NE(cached, nullptr);
  tally_free(cached);
  quarantine_drain();  // its reservation waits in the cache
  char* split = block + 4 * kMiB;
  ASSERT_EQ(mprotect(split, 4096, PROT_READ), 0);
  char* copied = static_cast<char*>(tally_realloc(block, 20 * kMiB));
  ASSERT_EQ(mprotect(split, 4096, PROT_READ | PROT_WRITE), 0);
  ASSERT_NE(copied, nullptr);
  EXPECT_EQ(copied, cached) << "the copy did not get the cached reservation";
  EXPECT_EQ(pages_without(copied, 9 * kMiB, 3), 0u);
  tally_free(copied);
  quarantine_drain();
}

// Past its reservation, a large block grows in place where the address space after it is
// free, as in fast mode, rather than moving (8 MiB or more) or being copied: a buffer grown
// by steps to 60 MB (sed -z) was copied and moved over and over. The test makes the space
// free: a mapping of its own sits just above the block's reservation, then goes.
TEST(QuarantineLargeBlocks, ABlockGrowsPastItsReservationInPlaceWhereTheSpaceIsFree) {
  constexpr size_t kMiB = size_t{1} << 20;
  constexpr size_t kRoom = 32 * kMiB;
  quarantine_drain();
  large_trim_cache();
  char* room = static_cast<char*>(
      mmap(nullptr, kRoom, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  ASSERT_NE(room, MAP_FAILED);
  // New mappings go below older ones; those that land in holes elsewhere are kept aside
  // until one lands right under the room (its reservation of 12 MiB ends within the 4 MiB
  // that slot alignment trims).
  std::vector<char*> elsewhere;
  char* block = nullptr;
  for (int tries = 0; tries < 64 && !block; ++tries) {
    char* candidate = static_cast<char*>(tally_malloc(9 * kMiB));
    ASSERT_NE(candidate, nullptr);
    char* reservation_end = candidate + 12 * kMiB;
    if (reservation_end <= room && room - reservation_end <= static_cast<ptrdiff_t>(4 * kMiB))
      block = candidate;
    else
      elsewhere.push_back(candidate);
  }
  for (char* other : elsewhere) tally_free(other);
  ASSERT_NE(block, nullptr) << "no block landed under the test's mapping at "
                            << static_cast<void*>(room) << ", the last at "
                            << (elsewhere.empty() ? nullptr : static_cast<void*>(elsewhere.back()));
  ASSERT_EQ(munmap(room, kRoom), 0);
  memset(block, 4, 9 * kMiB);
  char* grown = static_cast<char*>(tally_realloc(block, 15 * kMiB));
  ASSERT_NE(grown, nullptr);
  EXPECT_EQ(grown, block) << "moved or copied although the space after it was free";
  EXPECT_EQ(pages_without(grown, 9 * kMiB, 4), 0u);
  memset(grown + 9 * kMiB, 5, 6 * kMiB);  // the grown part is the block's
  tally_free(grown);
  quarantine_drain();
}

}  // namespace
}  // namespace tally
