// Segments and pages: slot bookkeeping, finding a page from any address, and the header
// never being mistaken for a block.
#include "core/segment.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/heap.h"
#include "core/registry.h"
#include "resident_pages.h"
#include "tally.h"

namespace tally {
namespace {

TEST(Segment, FindSlotsSkipsTheHeaderAndUsedRuns) {
  Segment* segment = segment_acquire(nullptr);
  ASSERT_NE(segment, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(segment) & kSegmentMask, 0u);
  EXPECT_EQ(segment->used_slots, kHeaderSlotMask);
  EXPECT_EQ(segment_find_slots(segment, 1), kHeaderSlots);
  segment->used_slots |= uint64_t{1} << 2 | uint64_t{1} << 5;
  EXPECT_EQ(segment_find_slots(segment, 1), 3u);
  EXPECT_EQ(segment_find_slots(segment, 2), 3u);
  EXPECT_EQ(segment_find_slots(segment, 3), 6u);
  EXPECT_EQ(segment_find_slots(segment, 32), 6u);
  segment->used_slots = ~uint64_t{0} & ~(uint64_t{1} << 63);
  EXPECT_EQ(segment_find_slots(segment, 1), 63u);
  EXPECT_EQ(segment_find_slots(segment, 2), 0u);
  segment->used_slots = ~uint64_t{0};
  EXPECT_EQ(segment_find_slots(segment, 1), 0u);
  segment->used_slots = kHeaderSlotMask;
  segment_release(segment);
}

// A page of blocks of 4 KiB and up uses one word of each of its three bitmaps. They lie
// side by side, so its first use touches at most two header pages (one, unless the 1.5 KiB
// straddles a page boundary): kept in three arrays by slot, they were 32 KiB apart and a
// program of many 8-128 KiB buffers took a third of its page faults in the header.
TEST(Segment, APagesBitmapWordsLieTogether) {
  Segment* segment = segment_acquire(nullptr);
  ASSERT_NE(segment, nullptr);
  for (unsigned slot = kHeaderSlots; slot < kSlotsPerSegment; ++slot) {
    const Page& page = segment->pages[slot];
    uintptr_t words[] = {reinterpret_cast<uintptr_t>(&page.free_bits[0]),
                         reinterpret_cast<uintptr_t>(&page.remote_bits[0]),
                         reinterpret_cast<uintptr_t>(&page.quarantine_bits[0])};
    std::set<uintptr_t> os_pages;
    for (uintptr_t word : words) os_pages.insert(word / kOsPageSize);
    EXPECT_LE(os_pages.size(), 2u) << slot;
    EXPECT_LT(words[2] - words[0], 2048u) << slot;
  }
  segment_release(segment);
}

// Pages of at most 64 blocks keep their one word of each bitmap in the segment's rows
// (OneWordBitmaps): forty pages of 2 KiB blocks leave the per-slot bitmaps untouched, and
// their words lie on one header page. With a word in each page's slot bitmaps, each page
// first-touched a header page of its own.
TEST(Segment, PagesOfAtMost64BlocksShareOneHeaderPageForTheirBitmaps) {
  std::thread([] {
    constexpr size_t kSize = 2 << 10;  // 32 blocks to a one-slot page
    std::vector<void*> blocks;
    std::set<Page*> pages;
    Segment* segment = nullptr;
    while (pages.size() < 40) {
      ASSERT_LT(blocks.size(), 40u * 64) << "the first segment holds " << pages.size() << " pages";
      void* block = tally_malloc(kSize);
      ASSERT_NE(block, nullptr);
      blocks.push_back(block);
      uintptr_t address = reinterpret_cast<uintptr_t>(block);
      if (!segment) segment = segment_of(address);
      if (segment_of(address) != segment) continue;  // the first segment's pages only
      pages.insert(page_of(segment, address));
    }
    std::set<uintptr_t> os_pages;
    for (Page* page : pages) {
      ASSERT_LE(page->capacity, 64u);
      for (const std::atomic<uint64_t>* word :
           {&page->free_bits[0], &page->remote_bits[0], &page->quarantine_bits[0]})
        os_pages.insert(reinterpret_cast<uintptr_t>(word) / kOsPageSize);
    }
    EXPECT_LE(os_pages.size(), 2u);
    // With transparent huge pages always on, the header's first write faults in 2 MiB.
    std::ifstream huge("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string huge_setting((std::istreambuf_iterator<char>(huge)), {});
    if (huge_setting.find("[always]") != std::string::npos) {
      for (void* block : blocks) tally_free(block);
      GTEST_SKIP() << "transparent huge pages are always on: residency says nothing";
    }
    // The whole pages of the slot bitmaps (the pages at their ends hold other books too).
    uintptr_t low =
        (reinterpret_cast<uintptr_t>(segment->bitmaps) + kOsPageSize - 1) & ~(kOsPageSize - 1);
    uintptr_t high = (reinterpret_cast<uintptr_t>(segment->bitmaps) + sizeof segment->bitmaps) &
                     ~(kOsPageSize - 1);
    EXPECT_EQ(resident_pages(reinterpret_cast<void*>(low), high - low), 0u)
        << "the pages' slot bitmaps were written";
    for (void* block : blocks) tally_free(block);
  }).join();
}

TEST(Segment, EveryAddressOfAMultiSlotPageFindsItsHead) {
  // 100 KiB blocks live in pages of several slots.
  unsigned size_class = size_class_of(100 * 1024);
  ASSERT_GT(g_size_classes[size_class].slot_count, 1);
  void* block = tally_malloc(100 * 1024);
  uintptr_t address = reinterpret_cast<uintptr_t>(block);
  Segment* segment = segment_of(address);
  Page* page = page_of(segment, address);
  EXPECT_EQ(page->size_class, size_class);
  EXPECT_EQ(page->slot_count, g_size_classes[size_class].slot_count);
  for (uintptr_t offset = 0; offset < 100 * 1024; offset += 4096)
    EXPECT_EQ(page_of(segment, address + offset), page);
  EXPECT_EQ(block_index_of(page, address), (address - page->start) / page->block_size);
  EXPECT_EQ(block_index_of(page, address + 8), UINT32_MAX);
  tally_free(block);
}

TEST(Segment, TheHeaderIsNeverABlock) {
  void* block = tally_malloc(24);
  Segment* segment = segment_of(reinterpret_cast<uintptr_t>(block));
  for (uintptr_t offset = 0; offset < kHeaderSlots * kSlotSize; offset += 512) {
    uintptr_t address = reinterpret_cast<uintptr_t>(segment) + offset;
    EXPECT_EQ(block_index_of(page_of(segment, address), address), UINT32_MAX) << offset;
  }
  tally_free(block);
}

TEST(Segment, BlocksOfOnePageAreDistinctAndFillIt) {
  // Allocate more than a page of 48-byte blocks and check no two overlap.
  std::vector<void*> blocks;
  std::set<uintptr_t> seen;
  for (int i = 0; i < 5000; ++i) {
    void* block = tally_malloc(48);
    ASSERT_NE(block, nullptr);
    uintptr_t address = reinterpret_cast<uintptr_t>(block);
    EXPECT_EQ(address % 16, 0u);
    EXPECT_TRUE(seen.insert(address).second) << "block handed out twice";
    blocks.push_back(block);
  }
  uintptr_t previous = 0;
  for (uintptr_t address : seen) {
    bool same_page =
        previous && segment_of(previous) == segment_of(address) &&
        page_of(segment_of(address), address) == page_of(segment_of(previous), previous);
    if (same_page) {
      EXPECT_GE(address - previous, 48u);
    }
    previous = address;
  }
  for (void* block : blocks) tally_free(block);
}

TEST(Segment, FreedSegmentsGoBackToTheCacheAndTheKernel) {
  // A working set of many pages, freed: committed bytes fall back.
  size_t committed_before = g_bytes_committed.load();
  std::vector<void*> blocks;
  for (int i = 0; i < 40000; ++i) blocks.push_back(tally_malloc(1000));
  EXPECT_GT(g_bytes_committed.load(), committed_before + 30 * 1000 * 1000);
  for (void* block : blocks) tally_free(block);
  tally_trim();
  EXPECT_LT(g_bytes_committed.load(), committed_before + 2 * 1024 * 1024);
}

// The VmFlags line of the mapping that holds `address`, from /proc/self/smaps ("" if none).
std::string vm_flags_of(uintptr_t address) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long start, end;
    char dash;
    std::istringstream header(line);
    if (line.find(':') > line.find(' ') && header >> std::hex >> start >> dash >> end &&
        dash == '-') {
      inside = start <= address && address < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line + " ";
    }
  }
  return "";
}

// Fills a new thread's heap with blocks of `block_size` (4 KiB by default) until it holds
// `segments` segments, and runs `check(segment, held)` on each segment the thread acquired, `held`
// being how many the heap held when it did. (A new thread may adopt an exited one's heap with a
// segment or two, whose advice is that heap's history: those are skipped.)
template <typename Check>
void with_heap_of_segments(uint32_t segments, Check check, size_t block_size = 4000) {
  std::thread([&] {
    std::vector<void*> blocks;
    blocks.push_back(tally_malloc(block_size));
    Heap* heap = t_heap;
    ASSERT_NE(heap, nullptr);
    uint32_t adopted = heap->segment_count;
    while (heap->segment_count < segments) blocks.push_back(tally_malloc(block_size));
    // The list is newest first, and nothing was released while it grew.
    uint32_t held = heap->segment_count;
    for (Segment* segment = heap->segments; segment; segment = segment->next)
      if (--held >= adopted) check(segment, held);
    for (void* block : blocks) tally_free(block);
    tally_trim();
  }).join();
}

// Keeps the timing of huge page faults out of a test (a virtual machine's slow first fault
// would turn the advice off halfway through it), and restores it after.
struct HugeFaultsNeverSlow {
  uint64_t saved = g_slow_huge_fault_nanoseconds.load();
  HugeFaultsNeverSlow() {
    g_slow_huge_fault_nanoseconds = UINT64_MAX;
    g_huge_pages_slow.store(false);
  }
  ~HugeFaultsNeverSlow() {
    g_slow_huge_fault_nanoseconds = saved;
    g_huge_pages_slow.store(false);
  }
};

TEST(Segment, AHeapGetsHugePagesOnceItHolds32MiB) {
  if (!std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled"))
    GTEST_SKIP() << "this kernel has no transparent huge pages";
  ASSERT_EQ(g_huge_pages_after_segments, kHugePagesAfterSegments);
  HugeFaultsNeverSlow never_slow;
  segment_trim_cache();  // cached segments keep the advice they had
  int advised = 0;
  with_heap_of_segments(kHugePagesAfterSegments + 2, [&](Segment* segment, uint32_t held) {
    bool expected = held >= kHugePagesAfterSegments;
    EXPECT_EQ(segment->huge_pages_advised, expected) << "segment " << held;
    // What the kernel was told, not only what tally noted.
    std::string flags = vm_flags_of(reinterpret_cast<uintptr_t>(segment));
    ASSERT_NE(flags, "") << "segment " << held;
    EXPECT_EQ(flags.find(" hg ") != std::string::npos, expected) << "segment " << held << flags;
    advised += expected;
  });
  EXPECT_EQ(advised, 2);
}

// The clock must start before anything writes to a new segment, or the fault it is meant to
// time has already happened: in the checked modes the address of the segment's records is
// written into its header, and was, before the clock started (safe and debug mode never saw
// a slow huge page). Both ways, with and without records, through segment_acquire itself.
bool g_first_page_resident_at_clock_start = false;
int g_clock_starts = 0;

TEST(Segment, TheHugeFaultClockStartsBeforeTheSegmentsFirstWrite) {
  if (!std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled"))
    GTEST_SKIP() << "this kernel has no transparent huge pages";
  ASSERT_EQ(g_huge_pages_after_segments, kHugePagesAfterSegments);
  HugeFaultsNeverSlow never_slow;
  tally_free(tally_malloc(16));  // this thread's heap, which owns the segments below
  ASSERT_NE(t_heap, nullptr);
  g_huge_fault_timing_started = [](Segment* segment) {
    unsigned char residency = 0;
    ASSERT_EQ(mincore(segment, kOsPageSize, &residency), 0);
    g_first_page_resident_at_clock_start = (residency & 1) != 0;
    ++g_clock_starts;
  };
  const bool saved_records = g_keep_block_records;  // the runtime's mode decided it
  for (bool records : {false, true}) {
    g_keep_block_records = records;  // segments made from here on get records (or not)
    segment_trim_cache();            // a new mapping, not a cached segment
    g_clock_starts = 0;
    g_first_page_resident_at_clock_start = true;
    Segment* segment = segment_acquire(t_heap, true);
    g_keep_block_records = saved_records;
    ASSERT_NE(segment, nullptr);
    EXPECT_EQ(g_clock_starts, 1) << "records " << records;
    EXPECT_FALSE(g_first_page_resident_at_clock_start) << "records " << records;
    EXPECT_EQ(segment->records != nullptr, records);
    segment_release(segment);
    segment_trim_cache();
  }
  g_huge_fault_timing_started = nullptr;
}

// A huge page that faults in slower than the small pages it replaces (a virtual machine's
// host backing fresh memory) ends the advice: the segment that showed it keeps only the
// huge page it has, and the heap's later segments get none.
TEST(Segment, ASlowHugePageFaultEndsTheAdvice) {
  if (!std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled"))
    GTEST_SKIP() << "this kernel has no transparent huge pages";
  ASSERT_EQ(g_huge_pages_after_segments, kHugePagesAfterSegments);
  HugeFaultsNeverSlow restored_after;
  g_slow_huge_fault_nanoseconds = 0;  // every fault is slow, as on a cold virtual machine
  segment_trim_cache();
  int checked = 0;
  with_heap_of_segments(kHugePagesAfterSegments + 3, [&](Segment* segment, uint32_t held) {
    uintptr_t start = reinterpret_cast<uintptr_t>(segment);
    std::string first_half = vm_flags_of(start);
    std::string second_half = vm_flags_of(start + kSegmentSize / 2);
    EXPECT_FALSE(segment->huge_pages_advised) << "segment " << held;
    EXPECT_EQ(second_half.find(" hg "), std::string::npos) << "segment " << held << second_half;
    if (held == kHugePagesAfterSegments) {
      // The one that was advised and timed: its first half keeps the advice, its second
      // half is told to take small pages.
      EXPECT_NE(first_half.find(" hg "), std::string::npos) << first_half;
      EXPECT_NE(second_half.find(" nh "), std::string::npos) << second_half;
    } else {
      EXPECT_EQ(first_half.find(" hg "), std::string::npos) << "segment " << held << first_half;
    }
    ++checked;
  });
  EXPECT_GE(checked, 10);
  EXPECT_TRUE(g_huge_pages_slow.load());
}

// Blocks bigger than a page may be used only in part (a buffer sized for the worst case):
// huge pages would make all of them resident, so a heap of such blocks gets none.
TEST(Segment, AHeapOfBlocksBiggerThanAPageGetsNoHugePages) {
  ASSERT_EQ(g_huge_pages_after_segments, kHugePagesAfterSegments);
  segment_trim_cache();  // cached segments keep the advice they had
  int checked = 0;
  with_heap_of_segments(
      kHugePagesAfterSegments + 2,
      [&](Segment* segment, uint32_t held) {
        EXPECT_FALSE(segment->huge_pages_advised) << "segment " << held;
        EXPECT_EQ(vm_flags_of(reinterpret_cast<uintptr_t>(segment)).find(" hg "), std::string::npos)
            << "segment " << held;
        ++checked;
      },
      64 << 10);
  EXPECT_GE(checked, 8);
}

TEST(Segment, HugePagesZeroAdvisesNoSegment) {
  uint32_t saved = g_huge_pages_after_segments;
  g_huge_pages_after_segments = kNeverHugePages;
  segment_trim_cache();  // cached segments keep the advice they had
  int checked = 0;
  with_heap_of_segments(kHugePagesAfterSegments + 2, [&](Segment* segment, uint32_t held) {
    EXPECT_FALSE(segment->huge_pages_advised) << "segment " << held;
    EXPECT_EQ(vm_flags_of(reinterpret_cast<uintptr_t>(segment)).find(" hg "), std::string::npos)
        << "segment " << held;
    ++checked;
  });
  EXPECT_GE(checked, 8);
  g_huge_pages_after_segments = saved;
}

}  // namespace
}  // namespace tally
