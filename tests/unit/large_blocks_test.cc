// Large blocks: own mappings, states, the cache of freed mappings, growth by moving pages.
#include "core/large_blocks.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "core/heap.h"
#include "core/registry.h"
#include "os/memory.h"
#include "os/process.h"
#include "resident_pages.h"
#include "tally.h"

namespace tally {
namespace {

LargeBlock* descriptor_of(void* block) {
  uintptr_t entry = registry_lookup(reinterpret_cast<uintptr_t>(block));
  EXPECT_EQ(entry & kRegistryKindMask, kRegistryLarge);
  return large_block_of_entry(entry);
}

TEST(LargeBlocks, FreshBlocksAreZeroAlignedAndLive) {
  void* block = large_allocate(1 << 20, 0, false);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % kSegmentSize, 0u);
  LargeBlock* descriptor = descriptor_of(block);
  EXPECT_EQ(descriptor->state.load(), LargeState::kLive);
  EXPECT_GE(descriptor->usable_size, size_t{1} << 20);
  for (size_t i = 0; i < (1 << 20); i += 4096) ASSERT_EQ(static_cast<char*>(block)[i], 0);
  EXPECT_EQ(large_free(descriptor, reinterpret_cast<uintptr_t>(block)), FreeOutcome::kFreed);
}

TEST(LargeBlocks, DoubleAndInteriorFreesAreRecognised) {
  void* block = large_allocate(600 * 1024, 0, false);
  LargeBlock* descriptor = descriptor_of(block);
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  EXPECT_EQ(large_free(descriptor, address + 4096), FreeOutcome::kNotAllocated);
  EXPECT_EQ(large_free(descriptor, address), FreeOutcome::kFreed);
  EXPECT_EQ(descriptor->state.load(), LargeState::kCached);
  EXPECT_EQ(large_free(descriptor, address), FreeOutcome::kDoubleFree);
}

TEST(LargeBlocks, CachedMappingsAreReusedAndZeroedWhenAskedTo) {
  void* first = large_allocate(2 << 20, 0, false);
  memset(first, 0xAB, 2 << 20);
  large_free(descriptor_of(first), reinterpret_cast<uintptr_t>(first));
  void* second = large_allocate(2 << 20, 0, true);
  EXPECT_EQ(second, first) << "the cached mapping should be reused";
  for (size_t i = 0; i < (2u << 20); i += 512) ASSERT_EQ(static_cast<unsigned char*>(second)[i], 0);
  memset(second, 0xCD, 2 << 20);
  large_free(descriptor_of(second), reinterpret_cast<uintptr_t>(second));
  // Trimming decommits the cache: what comes back reads as zero without a memset.
  tally_trim();
  void* third = large_allocate(2 << 20, 0, false);
  for (size_t i = 0; i < (2u << 20); i += 512) ASSERT_EQ(static_cast<unsigned char*>(third)[i], 0);
  large_free(descriptor_of(third), reinterpret_cast<uintptr_t>(third));
}

// A program that frees its whole working set of large blocks and builds it again (a thread
// ending, the next one starting) finds every mapping in the cache: with room for only 64,
// mstress with two threads faulted in twice the pages mimalloc did and ran 1.7x its time.
TEST(LargeBlocks, AWorkingSetOfHundredsOfBlocksComesBackFromTheCache) {
  constexpr size_t kBlocks = 200, kSize = 300 * 1024;
  std::vector<void*> blocks;
  for (size_t i = 0; i < kBlocks; ++i) blocks.push_back(large_allocate(kSize, 0, false));
  // One page each is enough to tell, and quick: cached pages are given back after 500 ms.
  for (void* block : blocks) {
    static_cast<char*>(block)[0] = 1;
    large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
  }
  // A mapping from the cache still has its pages; a fresh one (even at a recycled address)
  // has none until they are touched.
  size_t with_pages = 0;
  blocks.clear();
  for (size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(large_allocate(kSize, 0, false));
    unsigned char residency = 0;
    ASSERT_EQ(mincore(blocks.back(), 4096, &residency), 0);
    with_pages += residency & 1;
  }
  EXPECT_EQ(with_pages, kBlocks);
  for (void* block : blocks) large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
}

// Among cached mappings of the same reservation, a request takes the one whose pages cover
// it, not simply the most recent: a 1 MiB block that took the mapping of a 300 KiB block
// faulted in 180 pages that another cached mapping still had.
TEST(LargeBlocks, TheCacheGivesTheMappingWhosePagesCoverTheRequest) {
  constexpr size_t kBig = 1 << 20, kSmall = 300 * 1024;
  large_trim_cache();
  void* big = large_allocate(kBig, 0, false);
  void* small = large_allocate(kSmall, 0, false);
  ASSERT_NE(big, nullptr);
  ASSERT_NE(small, nullptr);
  memset(big, 1, kBig);
  memset(small, 2, kSmall);
  large_free(descriptor_of(big), reinterpret_cast<uintptr_t>(big));
  large_free(descriptor_of(small), reinterpret_cast<uintptr_t>(small));  // the most recent
  void* again = large_allocate(kBig, 0, false);
  EXPECT_EQ(again, big) << "the mapping with 1 MiB of pages";
  size_t pages = kBig / 4096, resident = 0;
  std::vector<unsigned char> residency(pages);
  ASSERT_EQ(mincore(again, kBig, residency.data()), 0);
  for (unsigned char page : residency) resident += page & 1;
  EXPECT_EQ(resident, pages) << "no page of the block is still to fault";
  void* other = large_allocate(kSmall, 0, false);
  EXPECT_EQ(other, small);
  large_free(descriptor_of(again), reinterpret_cast<uintptr_t>(again));
  large_free(descriptor_of(other), reinterpret_cast<uintptr_t>(other));
}

void* touched_block(size_t size) {
  void* block = large_allocate(size, 0, false);
  EXPECT_NE(block, nullptr);
  if (block) memset(block, 0x5A, size);
  return block;
}

// Over its budget, the cache keeps the pages of the mappings freed last and decommits the
// older ones. It used to decommit the mapping just freed, the one a loop is likeliest to
// take again.
TEST(LargeBlocks, OverItsBudgetTheCacheKeepsTheNewestPages) {
  constexpr size_t kSize = 3 << 20;
  large_trim_cache();
  large_set_cache_committed_floor(8 << 20);
  void* oldest = touched_block(kSize);
  void* middle = touched_block(kSize);
  void* newest = touched_block(kSize);
  for (void* block : {oldest, middle, newest})
    large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
  EXPECT_EQ(resident_pages(oldest, kSize), 0u);
  EXPECT_EQ(resident_pages(middle, kSize), kSize / kOsPageSize);
  EXPECT_EQ(resident_pages(newest, kSize), kSize / kOsPageSize);
  EXPECT_EQ(large_cached_committed_bytes(), 2 * kSize);
}

// The budget grows with what the program takes back from the cache, so a program that
// churns more big buffers than the floor holds keeps reusing their pages; one that does
// not reuse them (the test above) gets only the floor.
TEST(LargeBlocks, TheCacheBudgetGrowsWithReuse) {
  constexpr size_t kSize = 3 << 20, kBlocks = 8;
  large_trim_cache();
  large_set_cache_committed_floor(8 << 20);
  // Six rounds of one buffer: five come from the cache (15 MiB reused).
  for (int round = 0; round < 6; ++round) {
    void* block = touched_block(kSize);
    large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
  }
  // The first of these comes from the cache too: a budget of 18 MiB, six of the eight.
  std::vector<void*> blocks;
  for (size_t i = 0; i < kBlocks; ++i) blocks.push_back(touched_block(kSize));
  for (void* block : blocks) large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
  EXPECT_EQ(large_cached_committed_bytes(), 6 * kSize);
  for (size_t i = 0; i < kBlocks; ++i)
    EXPECT_EQ(resident_pages(blocks[i], kSize), i < kBlocks - 6 ? 0 : kSize / kOsPageSize) << i;
}

// Cached pages that wait past the purge delay are given back by small-block slow paths
// too: a program that stops using big buffers and goes on with small blocks otherwise kept
// them resident for good, since only large-block calls purged the cache.
TEST(LargeBlocks, ExpiredCachedPagesArePurgedFromSmallBlockSlowPaths) {
  constexpr size_t kSize = 4 << 20;
  large_trim_cache();
  void* block = touched_block(kSize);
  large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
  EXPECT_EQ(large_cached_committed_bytes(), kSize);
  usleep(600 * 1000);  // past the 500 ms delay
  heap_purge_expired(heap_acquire_for_thread());
  EXPECT_EQ(large_cached_committed_bytes(), 0u);
  EXPECT_EQ(resident_pages(block, kSize), 0u);
}

TEST(LargeBlocks, CallocOfAReusedDirtyMappingIsZero) {
  for (int round = 0; round < 4; ++round) {
    unsigned char* block = static_cast<unsigned char*>(tally_calloc(1, 3 << 20));
    ASSERT_NE(block, nullptr);
    for (size_t i = 0; i < (3u << 20); i += 256) ASSERT_EQ(block[i], 0) << round;
    memset(block, 0xEE, 3 << 20);
    tally_free(block);
  }
}

// A request bigger than every cached reservation takes over the committed pages of a
// cached mapping, moved to the start of its new reservation: a buffer grown by allocating a
// bigger one and freeing the old kept every old buffer's pages in the cache, and faulted in
// fresh ones for the new. The old range is given back, and the cache holds nothing.
TEST(LargeBlocks, ARequestNoCachedReservationHoldsTakesOverTheCachedPages) {
  constexpr size_t kOld = 3 << 20, kNew = 6 << 20;
  large_trim_cache();
  void* old_block = touched_block(kOld);
  uintptr_t old_start = reinterpret_cast<uintptr_t>(old_block);
  large_free(descriptor_of(old_block), old_start);
  ASSERT_EQ(large_cached_committed_bytes(), kOld);
  void* block = large_allocate(kNew, 0, false);
  ASSERT_NE(block, nullptr);
  EXPECT_NE(reinterpret_cast<uintptr_t>(block), old_start);
  EXPECT_EQ(resident_pages(block, kOld), kOld / kOsPageSize) << "fresh pages, none taken over";
  EXPECT_EQ(large_cached_committed_bytes(), 0u);
  EXPECT_EQ(registry_lookup(old_start), 0u) << "the old range is still registered";
  EXPECT_EQ(descriptor_of(block)->committed_size, kOld);
  EXPECT_EQ(static_cast<unsigned char*>(block)[kOld - 1], 0x5A);  // moved, not copied or lost
  large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
}

// A calloc takes no pages over: zeroing them would make all of them resident, where a
// fresh mapping's pages become resident only as they are used. The cached ones stay cached.
TEST(LargeBlocks, AZeroedRequestTakesNoCachedPagesOver) {
  constexpr size_t kOld = 3 << 20, kNew = 6 << 20;
  large_trim_cache();
  void* old_block = touched_block(kOld);
  large_free(descriptor_of(old_block), reinterpret_cast<uintptr_t>(old_block));
  unsigned char* block = static_cast<unsigned char*>(large_allocate(kNew, 0, true));
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(descriptor_of(block)->committed_size, 0u);
  EXPECT_EQ(resident_pages(block, kNew), 0u);
  EXPECT_EQ(large_cached_committed_bytes(), kOld);
  for (size_t i = 0; i < kNew; i += 4096) ASSERT_EQ(block[i], 0) << i;
  large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
}

// A cached mapping the program split (here: one page made read-only before the free) cannot
// be moved whole. The request still gets a whole, writable mapping of its own, and the split
// one is given back. (Kernels before 6.16 refuse such a move after unmapping the target,
// which the adoption then leaves alone; this one refuses first, so that branch is not
// reached here: what the test holds on any kernel is the result.)
TEST(LargeBlocks, ASplitCachedMappingIsNotTakenOverAndTheRequestStillGetsItsMapping) {
  constexpr size_t kOld = 3 << 20, kNew = 6 << 20;
  large_trim_cache();
  char* old_block = static_cast<char*>(touched_block(kOld));
  uintptr_t old_start = reinterpret_cast<uintptr_t>(old_block);
  ASSERT_EQ(mprotect(old_block + (1 << 20), kOsPageSize, PROT_READ), 0);
  large_free(descriptor_of(old_block), old_start);
  char* block = static_cast<char*>(large_allocate(kNew, 0, false));
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(descriptor_of(block)->committed_size, 0u);
  memset(block, 0x33, kNew);  // all of it writable
  EXPECT_EQ(large_cached_committed_bytes(), 0u);
  EXPECT_EQ(registry_lookup(old_start), 0u);
  large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
}

TEST(LargeBlocks, ReallocGrowthKeepsContentsAndRegistersNewSlots) {
  size_t size = 300 * 1024;
  char* block = static_cast<char*>(tally_malloc(size));
  for (size_t i = 0; i < size; ++i) block[i] = static_cast<char>(i * 7);
  for (int step = 0; step < 8; ++step) {
    size_t bigger = size * 3;
    block = static_cast<char*>(tally_realloc(block, bigger));
    ASSERT_NE(block, nullptr);
    for (size_t i = 0; i < size; i += 97) ASSERT_EQ(block[i], static_cast<char>(i * 7)) << step;
    for (size_t i = size; i < bigger; ++i) block[i] = static_cast<char>(i * 7);
    size = bigger;
    uintptr_t address = reinterpret_cast<uintptr_t>(block);
    EXPECT_EQ(registry_lookup(address + size - 1), registry_lookup(address));
  }
  tally_free(block);
}

TEST(LargeBlocks, AlignmentsBeyondASegmentAreHonoured) {
  for (size_t alignment = kSegmentSize * 2; alignment <= (size_t{64} << 20); alignment *= 2) {
    void* block = large_allocate(1 << 20, alignment, false);
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % alignment, 0u);
    large_free(descriptor_of(block), reinterpret_cast<uintptr_t>(block));
  }
}

TEST(LargeBlocks, ImpossibleSizesFailWithENOMEM) {
  errno = 0;
  EXPECT_EQ(large_allocate(SIZE_MAX, 0, false), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(large_allocate(size_t{1} << 62, 0, false), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(LargeBlocks, MovingLeavesAnInaccessibleQuarantinedHuskBehind) {
  size_t size = 1 << 20;
  char* block = static_cast<char*>(large_allocate(size, 0, false));
  ASSERT_NE(block, nullptr);
  for (size_t i = 0; i < size; i += 512) block[i] = static_cast<char>(i >> 9);
  LargeBlock* descriptor = descriptor_of(block);
  bool not_live = true;
  LargeBlock* husk = large_move_leaving_husk(descriptor, 3 * size, &not_live);
  ASSERT_NE(husk, nullptr);
  EXPECT_FALSE(not_live);
  char* moved = reinterpret_cast<char*>(descriptor->base);
  ASSERT_NE(moved, block);
  EXPECT_GE(descriptor->usable_size, 3 * size);
  for (size_t i = 0; i < size; i += 512) ASSERT_EQ(moved[i], static_cast<char>(i >> 9)) << i;
  moved[3 * size - 1] = 1;  // the new reservation holds the grown block
  // The old range now names the husk, quarantined; its pages are gone and inaccessible.
  EXPECT_EQ(descriptor_of(block), husk);
  EXPECT_EQ(husk->state.load(), LargeState::kQuarantined);
  EXPECT_EQ(husk->base, reinterpret_cast<uintptr_t>(block));
  unsigned char residency = 1;
  ASSERT_EQ(mincore(block, kOsPageSize, &residency), 0);
  EXPECT_EQ(residency & 1, 0);
  EXPECT_EXIT(
      {
        volatile char* stale = block;
        (void)*stale;
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSEGV), "");
  // A second move of the husk is refused as a double free.
  EXPECT_EQ(large_move_leaving_husk(husk, size, &not_live), nullptr);
  EXPECT_TRUE(not_live);
  // The husk leaves the quarantine into the cache, and serves the next request.
  EXPECT_TRUE(husk->pages_protected);
  large_leave_quarantine(husk);
  EXPECT_FALSE(husk->pages_protected);
  EXPECT_EQ(husk->state.load(), LargeState::kCached);
  EXPECT_EQ(large_free(descriptor, descriptor->base), FreeOutcome::kFreed);
}

// A block grown by a page at a time, each growth a move (debug mode's realloc): the block
// must stay one kernel mapping, or every husk left behind would hold as many mappings as
// moves before it, and a process of a few hundred moves ran into vm.max_map_count (where
// the kernel refused a move halfway and the block lost its first pages).
TEST(LargeBlocks, MovingABlockAgainAndAgainKeepsItOneMapping) {
  size_t size = 64 * kOsPageSize;
  unsigned char* block = static_cast<unsigned char*>(large_allocate(size, 0, false));
  ASSERT_NE(block, nullptr);
  for (size_t i = 0; i < size; ++i) block[i] = static_cast<unsigned char>(i * 7 + 1);
  LargeBlock* descriptor = descriptor_of(block);
  std::vector<LargeBlock*> husks;
  bool query_works = os_range_is_one_mapping(block, size) != OneMapping::kUnknown;
  for (int move = 0; move < 64; ++move) {
    size_t grown = size + kOsPageSize;
    bool not_live = true;
    LargeBlock* husk = large_move_leaving_husk(descriptor, grown, &not_live);
    ASSERT_NE(husk, nullptr) << "move " << move;
    husks.push_back(husk);
    unsigned char* moved = reinterpret_cast<unsigned char*>(descriptor->base);
    for (size_t i = 0; i < size; ++i)
      ASSERT_EQ(moved[i], static_cast<unsigned char>(i * 7 + 1)) << "move " << move << " at " << i;
    for (size_t i = size; i < grown; ++i) moved[i] = static_cast<unsigned char>(i * 7 + 1);
    size = grown;
    if (query_works) {
      ASSERT_EQ(os_range_is_one_mapping(moved, size), OneMapping::kYes) << "move " << move;
    }
  }
  for (LargeBlock* husk : husks) {
    large_leave_quarantine(husk);
    EXPECT_EQ(husk->state.load(), LargeState::kCached);
  }
  EXPECT_EQ(large_free(descriptor, descriptor->base), FreeOutcome::kFreed);
  if (!query_works)
    GTEST_SKIP() << "the kernel has no PROCMAP_QUERY: the mapping count is unchecked";
}

TEST(LargeBlocks, TheOneMappingQueryTellsSplitRangesApart) {
  size_t page = kOsPageSize;
  char* range = static_cast<char*>(
      mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(range, MAP_FAILED);
  if (os_range_is_one_mapping(range, 4 * page) == OneMapping::kUnknown) {
    munmap(range, 4 * page);
    GTEST_SKIP() << "the kernel has no PROCMAP_QUERY (Linux 6.11)";
  }
  EXPECT_EQ(os_range_is_one_mapping(range, 4 * page), OneMapping::kYes);
  ASSERT_EQ(mprotect(range + 2 * page, page, PROT_READ), 0);  // splits it in three
  EXPECT_EQ(os_range_is_one_mapping(range, 2 * page), OneMapping::kYes);
  EXPECT_EQ(os_range_is_one_mapping(range, 3 * page), OneMapping::kNo);
  EXPECT_EQ(os_range_is_one_mapping(range + 2 * page, page), OneMapping::kYes);
  ASSERT_EQ(munmap(range, page), 0);
  EXPECT_EQ(os_range_is_one_mapping(range, page), OneMapping::kNo);  // nothing there
  munmap(range + page, 3 * page);
}

// Debug mode's tail guard: everything after a live large block's last page, to the end of
// its reservation, is inaccessible, wherever the block's end moves (reuse of a cached
// mapping for another size, a realloc within the reservation, growth past it, a move that
// leaves a husk).
bool accessible(uintptr_t address) {
  uintptr_t start = 0, end = 0;
  bool writable = false;
  return process_find_mapping(address, &start, &end, &writable) && writable;
}

class TailGuards : public testing::Test {
 protected:
  void SetUp() override { large_set_tail_guards(true); }
  void TearDown() override {
    large_set_tail_guards(false);
    large_trim_cache();
  }
};

TEST_F(TailGuards, FollowTheBlocksEndWhereverItMoves) {
  const size_t page = kOsPageSize;
  char* block = static_cast<char*>(large_allocate(300 * page, 0, false));
  ASSERT_NE(block, nullptr);
  LargeBlock* descriptor = descriptor_of(block);
  uintptr_t base = reinterpret_cast<uintptr_t>(block);
  EXPECT_TRUE(accessible(base + 299 * page));
  EXPECT_FALSE(accessible(base + 300 * page)) << "no guard after a fresh block";
  EXPECT_EQ(large_tail_guard_owner(base + 300 * page + 7), descriptor);
  EXPECT_EQ(large_tail_guard_owner(base + 299 * page), nullptr);
  uintptr_t last = base + descriptor->mapped_size - 1;  // far past the end: faults too
  EXPECT_FALSE(accessible(base + 301 * page));
  EXPECT_FALSE(accessible(last));
  EXPECT_EQ(large_tail_guard_owner(last), descriptor);
  EXPECT_EQ(large_tail_guard_owner(last + 1), nullptr);

  // Within the reservation: the guard goes to the new end.
  ASSERT_EQ(large_reallocate(descriptor, 400 * page), block);
  memset(block + 300 * page, 1, 100 * page);  // would fault on a stale guard
  EXPECT_FALSE(accessible(base + 400 * page));
  EXPECT_FALSE(accessible(last));
  ASSERT_EQ(large_reallocate(descriptor, 200 * page), block);
  EXPECT_TRUE(accessible(base + 199 * page));
  EXPECT_FALSE(accessible(base + 200 * page));
  EXPECT_FALSE(accessible(base + 300 * page)) << "the stale tail of a shrunk block";
  EXPECT_EQ(large_tail_guard_owner(base + 350 * page), descriptor);

  // Past the reservation: the block grows or moves, and its guard with it.
  size_t beyond = descriptor->mapped_size + 10 * page;
  char* grown = static_cast<char*>(large_reallocate(descriptor, beyond));
  ASSERT_NE(grown, nullptr);
  uintptr_t grown_base = reinterpret_cast<uintptr_t>(grown);
  memset(grown, 2, beyond);
  EXPECT_FALSE(accessible(grown_base + beyond));
  EXPECT_FALSE(accessible(grown_base + descriptor->mapped_size - 1));
  EXPECT_EQ(large_tail_guard_owner(grown_base + beyond), descriptor);

  // Freed and cached, then reused for a smaller block: the guard is at the new end and the
  // old guard's page is usable again.
  ASSERT_EQ(large_free(descriptor, grown_base), FreeOutcome::kFreed);
  char* again = static_cast<char*>(large_allocate(100 * page, 0, false));
  ASSERT_EQ(again, grown) << "the cached mapping comes back";
  EXPECT_FALSE(accessible(grown_base + 100 * page));
  EXPECT_FALSE(accessible(grown_base + beyond));
  ASSERT_EQ(large_free(descriptor, grown_base), FreeOutcome::kFreed);
  again = static_cast<char*>(large_allocate(150 * page, 0, false));
  ASSERT_EQ(again, grown);
  memset(again, 3, 150 * page);
  EXPECT_FALSE(accessible(grown_base + 150 * page));
  EXPECT_FALSE(accessible(grown_base + descriptor->mapped_size - 1));
  EXPECT_EQ(large_free(descriptor, grown_base), FreeOutcome::kFreed);
}

// The guard's moves are charged to the page-protection budget: moving down over pages a
// block used costs their refaults later (uncounted, they were a third of mstress's time in
// debug mode), so it is left out when the budget refuses, and the guard stays further on.
struct FakeCosts {
  static bool allow;
  static int charges;
  static size_t pages;
  static bool allows() { return allow; }
  static uint64_t clock() { return 1; }
  static void charge(uint64_t, size_t refaulted) {
    ++charges;
    pages += refaulted;
  }
};
bool FakeCosts::allow = true;
int FakeCosts::charges = 0;
size_t FakeCosts::pages = 0;

TEST_F(TailGuards, AMoveDownOverUsedPagesIsChargedAndLeftOutWhenRefused) {
  static const ProtectionCosts kCosts{FakeCosts::allows, FakeCosts::clock, FakeCosts::charge};
  large_set_tail_guards(true, &kCosts);
  FakeCosts::allow = true;
  FakeCosts::charges = 0;
  FakeCosts::pages = 0;
  const size_t page = kOsPageSize;
  char* block = static_cast<char*>(large_allocate(300 * page, 0, false));
  ASSERT_NE(block, nullptr);
  LargeBlock* descriptor = descriptor_of(block);
  uintptr_t base = reinterpret_cast<uintptr_t>(block);
  EXPECT_EQ(FakeCosts::charges, 1) << "the fresh mapping's guard";
  EXPECT_EQ(FakeCosts::pages, 0u) << "nothing past a fresh block was ever used";
  memset(block, 1, 300 * page);

  // Freed, cached and reused smaller while the budget allows: the guard moves down over
  // 100 used pages, charged as 100 refaults.
  ASSERT_EQ(large_free(descriptor, base), FreeOutcome::kFreed);
  ASSERT_EQ(large_allocate(200 * page, 0, false), block) << "the cached mapping comes back";
  EXPECT_EQ(FakeCosts::charges, 2);
  EXPECT_EQ(FakeCosts::pages, 100u);
  EXPECT_FALSE(accessible(base + 200 * page));

  // Reused bigger: the guard moves up, the call charged but no refaults (counted already).
  ASSERT_EQ(large_free(descriptor, base), FreeOutcome::kFreed);
  ASSERT_EQ(large_allocate(280 * page, 0, false), block);
  EXPECT_EQ(FakeCosts::charges, 3);
  EXPECT_EQ(FakeCosts::pages, 100u);
  EXPECT_FALSE(accessible(base + 280 * page));
  memset(block, 2, 280 * page);

  // Smaller again with the budget spent: the guard stays at 280 pages, nothing charged.
  FakeCosts::allow = false;
  ASSERT_EQ(large_free(descriptor, base), FreeOutcome::kFreed);
  ASSERT_EQ(large_allocate(150 * page, 0, false), block);
  EXPECT_EQ(FakeCosts::charges, 3);
  EXPECT_TRUE(accessible(base + 150 * page)) << "left where it was";
  EXPECT_FALSE(accessible(base + 280 * page));
  EXPECT_EQ(large_tail_guard_owner(base + 280 * page), descriptor);
  EXPECT_EQ(large_free(descriptor, base), FreeOutcome::kFreed);
}

TEST_F(TailGuards, AMoveLeavesTheOldGuardWithTheHusk) {
  const size_t page = kOsPageSize;
  char* block = static_cast<char*>(large_allocate(64 * page, 0, false));
  ASSERT_NE(block, nullptr);
  LargeBlock* descriptor = descriptor_of(block);
  memset(block, 4, 64 * page);
  bool not_live = false;
  LargeBlock* husk = large_move_leaving_husk(descriptor, 80 * page, &not_live);
  if (!husk) GTEST_SKIP() << "the kernel refused to move the pages";
  uintptr_t moved = descriptor->base;
  EXPECT_NE(moved, reinterpret_cast<uintptr_t>(block));
  EXPECT_EQ(static_cast<char*>(reinterpret_cast<void*>(moved))[64 * page - 1], 4);
  memset(reinterpret_cast<void*>(moved), 5, 80 * page);
  EXPECT_FALSE(accessible(moved + 80 * page));
  EXPECT_FALSE(accessible(moved + descriptor->mapped_size - 1));
  EXPECT_EQ(husk->tail_guard, 64 * page);
  EXPECT_FALSE(accessible(husk->base + husk->mapped_size - 1)) << "the husk keeps its guard";
  large_leave_quarantine(husk);
  EXPECT_EQ(large_free(descriptor, moved), FreeOutcome::kFreed);
}

}  // namespace
}  // namespace tally
