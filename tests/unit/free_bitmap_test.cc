// The free bitmaps: local frees, remote frees and their harvest, double-free detection on
// every path, racing frees of one block, and reuse of freed blocks.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "core/heap.h"
#include "core/segment.h"
#include "tally.h"

namespace tally {
namespace {

struct Located {
  Page* page;
  uint32_t index;
};

Located locate(void* block) {
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  Page* page = page_of(segment_of(address), address);
  return {page, block_index_of(page, address)};
}

TEST(FreeBitmap, LocalFreeThenDoubleFreeIsDetectedAndHarmless) {
  void* block = tally_malloc(64);
  Located where = locate(block);
  ASSERT_EQ(where.page->heap, t_heap);
  uint32_t used = where.page->used;
  EXPECT_EQ(heap_free_local(t_heap, where.page, where.index), FreeOutcome::kFreed);
  EXPECT_EQ(where.page->used, used - 1);
  EXPECT_EQ(heap_free_local(t_heap, where.page, where.index), FreeOutcome::kDoubleFree);
  EXPECT_EQ(where.page->used, used - 1) << "a double free must not change the books";
  // The block is handed out once again, and only once.
  std::set<void*> fresh;
  for (int i = 0; i < 3000; ++i) EXPECT_TRUE(fresh.insert(tally_malloc(64)).second);
  for (void* p : fresh) tally_free(p);
}

TEST(FreeBitmap, RemoteFreesAreHarvestedAndReused) {
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(tally_malloc(32));
  std::set<void*> freed(blocks.begin(), blocks.end());
  std::thread other([&] {
    for (void* block : blocks) {
      Located where = locate(block);
      EXPECT_EQ(heap_free_remote(where.page, where.index), FreeOutcome::kFreed);
    }
    // A second free from the remote side, before the owner harvested: caught.
    Located where = locate(blocks[0]);
    EXPECT_EQ(heap_free_remote(where.page, where.index), FreeOutcome::kDoubleFree);
  });
  other.join();
  // The owner's free of a block freed remotely and not yet harvested is the double one.
  Located first = locate(blocks[1]);
  EXPECT_EQ(heap_free_local(t_heap, first.page, first.index), FreeOutcome::kDoubleFree);
  // Allocating harvests: the remote-freed blocks come back.
  size_t reused = 0;
  std::vector<void*> again;
  for (int i = 0; i < 4000; ++i) {
    void* block = tally_malloc(32);
    reused += freed.count(block);
    again.push_back(block);
  }
  EXPECT_EQ(reused, blocks.size());
  for (void* block : again) tally_free(block);
}

// Counts the double frees a harvest finds (the runtime's reporter would stop the test).
std::atomic<int> g_late_double_frees{0};
void count_late_double_free(uintptr_t, size_t) {
  g_late_double_frees.fetch_add(1);
}

struct LateDoubleFreeCounter {
  void (*saved)(uintptr_t, size_t) = g_report_late_double_free;
  LateDoubleFreeCounter() {
    g_late_double_frees.store(0);
    g_report_late_double_free = count_late_double_free;
  }
  ~LateDoubleFreeCounter() { g_report_late_double_free = saved; }
};

TEST(FreeBitmap, RacingFreesOfOneBlockFreeItAtMostOnce) {
  // Two threads (one of them the owner) free the same block at once, many times over.
  // Whatever the interleaving, no block may reach two owners: every block the test holds
  // is one malloc never hands out again until it is freed. The owner's free has no fence,
  // so both frees may miss each other and leave the block in both maps; it is then
  // reported once harvested, and never handed out before (heap.cc, "Racing frees").
  LateDoubleFreeCounter counter;
  std::set<void*> held;
  int both_freed = 0;
  for (int round = 0; round < 2000; ++round) {
    void* block = tally_malloc(80);
    ASSERT_TRUE(held.insert(block).second) << "round " << round << ": handed out twice";
    Located where = locate(block);
    std::atomic<int> ready{0};
    FreeOutcome remote_outcome;
    std::thread other([&] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      remote_outcome = heap_free_remote(where.page, where.index);
    });
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    FreeOutcome local_outcome = heap_free_local(t_heap, where.page, where.index);
    other.join();
    int freed = (local_outcome == FreeOutcome::kFreed) + (remote_outcome == FreeOutcome::kFreed);
    uint64_t bit = uint64_t{1} << (where.index & 63);
    bool in_free = where.page->free_bits[where.index >> 6].load() & bit;
    bool in_remote = where.page->remote_bits[where.index >> 6].load() & bit;
    ASSERT_EQ(freed == 2, in_free && in_remote) << "round " << round;
    ASSERT_EQ(freed >= 1, in_free || in_remote) << "round " << round;
    both_freed += freed == 2;
    if (freed == 0) {
      tally_free(block);  // both backed off: the block is still live
    }
    held.erase(block);
  }
  // Every block left in both maps is reported once harvested, before it is handed out.
  std::vector<void*> drained;
  for (int i = 0; i < 4000; ++i) {
    void* block = tally_malloc(80);
    ASSERT_TRUE(held.insert(block).second) << "handed out twice";
    drained.push_back(block);
  }
  EXPECT_EQ(g_late_double_frees.load(), both_freed);
  for (void* block : drained) tally_free(block);
}

// The race above made certain: the owner frees `block`, and another thread frees it
// without seeing the owner's bit (hidden from it while it frees). The block is then in
// both maps.
void free_twice_missing_each_other(void* block) {
  Located where = locate(block);
  uint32_t word = where.index >> 6;
  uint64_t bit = uint64_t{1} << (where.index & 63);
  ASSERT_EQ(heap_free_local(t_heap, where.page, where.index), FreeOutcome::kFreed);
  where.page->free_bits[word].fetch_and(~bit);
  std::thread([&] {
    EXPECT_EQ(heap_free_remote(where.page, where.index), FreeOutcome::kFreed);
  }).join();
  where.page->free_bits[word].fetch_or(bit);
}

TEST(FreeBitmap, FreesThatMissedEachOtherAreReportedBeforeTheBlockIsReused) {
  // Handing the block out before a harvest would leave its remote bit behind, and the next
  // harvest would free the new owner's block under it.
  std::thread([] {
    LateDoubleFreeCounter counter;
    constexpr size_t kSize = 112;
    std::vector<void*> blocks;
    for (int i = 0; i < 64; ++i) blocks.push_back(tally_malloc(kSize));
    void* victim = blocks[0];
    free_twice_missing_each_other(victim);
    std::set<void*> held(blocks.begin() + 1, blocks.end());
    for (int i = 0; i < 5000; ++i) {
      void* block = tally_malloc(kSize);
      ASSERT_TRUE(held.insert(block).second) << "allocation " << i << " handed out a held block";
    }
    EXPECT_EQ(g_late_double_frees.load(), 1);
    EXPECT_TRUE(held.count(victim)) << "the block stays usable, once";
    for (void* block : held) tally_free(block);
  }).join();
}

// A report may allocate (the unwinder's first use loads a library): here the reporter takes
// a block of the size being harvested, from the very page. The harvest reports once its
// words are written, so that block is the report's alone; reported in the middle, the
// harvest's store put the block back in the free map and it was handed out again.
std::vector<void*> g_allocated_by_reports;
size_t g_report_allocation_size = 0;
void allocate_while_reporting(uintptr_t, size_t) {
  g_late_double_frees.fetch_add(1);
  g_allocated_by_reports.push_back(tally_malloc(g_report_allocation_size));
}

TEST(FreeBitmap, AReportThatAllocatesDuringTheHarvestGetsABlockOfItsOwn) {
  std::thread([] {
    LateDoubleFreeCounter counter;
    constexpr size_t kSize = 144;
    g_report_allocation_size = kSize;
    g_report_late_double_free = allocate_while_reporting;
    std::vector<void*> blocks;
    for (int i = 0; i < 64; ++i) blocks.push_back(tally_malloc(kSize));
    free_twice_missing_each_other(blocks[0]);
    std::set<void*> held(blocks.begin() + 1, blocks.end());
    for (int i = 0; i < 5000; ++i) {
      void* block = tally_malloc(kSize);
      ASSERT_TRUE(held.insert(block).second) << "allocation " << i << " handed out a held block";
    }
    EXPECT_EQ(g_late_double_frees.load(), 1);
    ASSERT_EQ(g_allocated_by_reports.size(), 1u);
    EXPECT_TRUE(held.insert(g_allocated_by_reports[0]).second)
        << "the report's block was handed out again";
    for (void* block : held) tally_free(block);
  }).join();
}

TEST(FreeBitmap, EmptyPagesAreRetiredAndTheirBlocksStillCheck) {
  std::vector<void*> blocks;
  for (int i = 0; i < 20000; ++i) blocks.push_back(tally_malloc(16));
  void* probe = blocks[100];
  Located where = locate(probe);
  for (void* block : blocks) tally_free(block);
  // The page of `probe` is empty now (cached or released); freeing again is caught.
  if (where.page->status != PageStatus::kUnused) {
    EXPECT_EQ(heap_free_local(t_heap, where.page, where.index), FreeOutcome::kDoubleFree);
  } else {
    EXPECT_EQ(block_index_of(where.page, reinterpret_cast<uintptr_t>(probe)), UINT32_MAX);
  }
}

// Fills one page of blocks of `size` (and starts the next, so that the full one is not
// the heap's current page and retires once emptied); returns the full page's blocks.
std::vector<void*> fill_a_page(size_t size) {
  std::vector<void*> blocks{tally_malloc(size)};
  Page* page = locate(blocks[0]).page;
  for (;;) {
    void* block = tally_malloc(size);
    if (locate(block).page != page) break;  // leaked to the end of the test's thread
    blocks.push_back(block);
  }
  return blocks;
}

Page* retire(const std::vector<void*>& blocks) {
  Page* page = locate(blocks[0]).page;
  for (void* block : blocks) tally_free(block);
  return page;
}

TEST(FreeBitmap, APageThatEmptiesReportsFreesThatMissedEachOther) {
  // Every block of a full page freed, one of them by its owner and another thread at once,
  // each missing the other: the page empties with that block in both maps. Retired and set
  // up afresh, its words would be cleared with the second free unreported.
  std::thread([] {
    LateDoubleFreeCounter counter;
    std::vector<void*> blocks = fill_a_page(176);
    Page* page = locate(blocks[0]).page;
    ASSERT_NE(page->status, PageStatus::kCurrent);
    free_twice_missing_each_other(blocks[0]);
    for (size_t i = 1; i < blocks.size(); ++i) tally_free(blocks[i]);
    EXPECT_EQ(page->used, 0u);
    EXPECT_EQ(g_late_double_frees.load(), 1) << "reported when the page emptied";
  }).join();
}

TEST(FreeBitmap, AReportThatAllocatesWhileAPageRetiresLeavesTheListsWhole) {
  // The same, with a report that allocates a class this thread has no page of: its slow
  // path collects the incoming pages, this one among them (the other thread's free put it
  // there). Reported while the page was half retired, the collect retired it a second time
  // inside the first: the empty-page list looped on it, and a purge never ended.
  std::thread([] {
    LateDoubleFreeCounter counter;
    g_allocated_by_reports.clear();
    g_report_allocation_size = 3000;
    g_report_late_double_free = allocate_while_reporting;
    std::vector<void*> blocks = fill_a_page(176);
    Page* page = locate(blocks[0]).page;
    ASSERT_NE(page->status, PageStatus::kCurrent);
    free_twice_missing_each_other(blocks[0]);
    for (size_t i = 1; i < blocks.size(); ++i) tally_free(blocks[i]);
    EXPECT_EQ(g_late_double_frees.load(), 1);
    EXPECT_EQ(g_allocated_by_reports.size(), 1u);
    ASSERT_NE(page->next, page) << "the empty-page list loops";
    heap_trim(t_heap);  // releases every empty page: ends only if the list is whole
    std::set<void*> fresh;
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE(fresh.insert(tally_malloc(176)).second);
    for (void* block : fresh) tally_free(block);
    for (void* block : g_allocated_by_reports) tally_free(block);
  }).join();
}

TEST(FreeBitmap, AnEmptyPageGoesBackToItsOwnSizeClassFirst) {
  // Pages of 40, 48 and 64 KiB blocks all span 8 slots. A page handed to another block
  // size keeps the memory its old blocks touched and touches more at the new blocks'
  // starts; so a page goes back to its own class, or else to the nearest one, before the
  // newest empty page of any class is taken.
  std::thread([] {
    constexpr size_t kSmaller = 40 << 10, kWanted = 48 << 10, kBigger = 64 << 10;
    // All three filled before any is emptied, so that none is made from another.
    std::vector<void*> of_wanted = fill_a_page(kWanted), of_smaller = fill_a_page(kSmaller),
                       of_bigger = fill_a_page(kBigger);
    Page* wanted = retire(of_wanted);
    Page* smaller = retire(of_smaller);
    Page* bigger = retire(of_bigger);  // the newest empty page
    ASSERT_NE(wanted, smaller);
    ASSERT_NE(smaller, bigger);
    ASSERT_EQ(wanted->status, PageStatus::kEmpty) << "over the empty-page budget";
    ASSERT_EQ(smaller->status, PageStatus::kEmpty);
    ASSERT_EQ(bigger->status, PageStatus::kEmpty);
    ASSERT_EQ(wanted->slot_count, bigger->slot_count);
    ASSERT_EQ(smaller->slot_count, bigger->slot_count);
    // The current page of 48 KiB blocks fills first; the next page is the empty one.
    std::vector<void*> more = fill_a_page(kWanted);
    void* next = tally_malloc(kWanted);
    EXPECT_EQ(locate(next).page, wanted);
    EXPECT_EQ(bigger->status, PageStatus::kEmpty);
    // With no 48 KiB page left, the 40 KiB one is nearer than the newer 64 KiB one.
    while (locate(next).page == wanted) next = tally_malloc(kWanted);
    EXPECT_EQ(locate(next).page, smaller);
    EXPECT_EQ(bigger->status, PageStatus::kEmpty);
  }).join();
}

TEST(FreeBitmap, APageFreedIntoAfterItWasFullWaitsBehindTheOnesBeforeIt) {
  // The page that has waited longest has had the most time to lose blocks: refilling it
  // first keeps pages from draining empty while newer ones are filled.
  std::thread([] {
    constexpr size_t kSize = 1024;
    std::vector<void*> first = fill_a_page(kSize), second = fill_a_page(kSize);
    Page* waited_longest = locate(first[0]).page;
    tally_free(first[0]);
    tally_free(second[0]);  // its page is freed into last
    void* block = tally_malloc(kSize);
    Page* current = locate(block).page;
    ASSERT_NE(current, waited_longest);
    while (locate(block).page == current) block = tally_malloc(kSize);
    EXPECT_EQ(locate(block).page, waited_longest);
  }).join();
}

TEST(FreeBitmap, HeapsOfExitedThreadsAreAdopted) {
  void* kept = nullptr;
  Heap* first_heap = nullptr;
  std::thread first([&] {
    kept = tally_malloc(200);
    first_heap = t_heap;
  });
  first.join();
  Heap* second_heap = nullptr;
  std::thread second([&] {
    tally_free(tally_malloc(8));
    second_heap = t_heap;
    // The adopting thread owns the exited thread's pages: its free is local.
    Located where = locate(kept);
    EXPECT_EQ(where.page->heap, t_heap);
    tally_free(kept);
  });
  second.join();
  EXPECT_EQ(first_heap, second_heap);
}

// An exiting thread leaves its current pages current, for the thread that adopts its heap
// (retired at exit, the pages of many threads ending a burst ran over the empty-page
// budget and were decommitted one madvise at a time, then faulted in again); a heap that
// nobody adopts gives them up when a live thread purges it, once the purge delay passed.
TEST(FreeBitmap, AnExitedThreadsCurrentPagesWaitForTheAdopterOrThePurge) {
  constexpr size_t kSize = 208;
  tally_free(tally_malloc(8));  // this thread's own heap first: it must adopt none below
  Page* page = nullptr;
  Heap* heap = nullptr;
  std::thread([&] {
    void* block = tally_malloc(kSize);
    page = locate(block).page;
    heap = t_heap;
    tally_free(block);
  }).join();
  ASSERT_TRUE(heap->abandoned);
  EXPECT_EQ(page->status, PageStatus::kCurrent);
  EXPECT_EQ(page->used, 0u);
  std::thread([&] {
    void* block = tally_malloc(kSize);
    EXPECT_EQ(t_heap, heap);
    EXPECT_EQ(locate(block).page, page) << "the adopter allocates from the same page";
    tally_free(block);
  }).join();
  // Unadopted: the purge gives the page up (retired, or released over the budget).
  ASSERT_TRUE(heap->abandoned);
  ASSERT_EQ(page->status, PageStatus::kCurrent);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  heap_purge_expired(t_heap);
  EXPECT_NE(page->status, PageStatus::kCurrent);
}

// A fork can stop another thread's remote free after it claimed the page's place on the
// owner's incoming list and before it pushed the page. In the child that page was on no
// list, so the block was never harvested (and later remote frees into the page skipped the
// push too): the child could never reuse them. Simulated here: the remote bit set and the
// claim taken, without the push, as the fork found them.
TEST(FreeBitmap, AForkedChildHarvestsAPageWhoseRemoteFreeTheForkStopped) {
  constexpr size_t kSize = 4000;
  std::vector<void*> blocks;
  for (int i = 0; i < 200; ++i) blocks.push_back(tally_malloc(kSize));
  // A full page, not the heap's current one (whose remote frees the allocator harvests
  // without the list).
  void* stopped = blocks[0];
  Located where = locate(stopped);
  ASSERT_EQ(where.page->heap, t_heap);
  ASSERT_NE(where.page, locate(blocks.back()).page);
  uint64_t bit = uint64_t{1} << (where.index & 63);
  where.page->remote_bits[where.index >> 6].fetch_or(bit);
  uint8_t unclaimed = 0;
  ASSERT_TRUE(where.page->in_incoming.compare_exchange_strong(unclaimed, 1))
      << "the page was on the incoming list already";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The block comes back within a few pages' worth of allocations of its size.
    for (int i = 0; i < 1000; ++i)
      if (tally_malloc(kSize) == stopped) _exit(0);
    _exit(1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child never got the block back: status " << status;
  // The parent undoes the simulation and frees the block for real.
  where.page->remote_bits[where.index >> 6].fetch_and(~bit);
  where.page->in_incoming.store(0);
  for (void* block : blocks) tally_free(block);
}

}  // namespace
}  // namespace tally
