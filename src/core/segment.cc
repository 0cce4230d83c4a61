// Segment supply. Fresh segments come from the kernel aligned to their size; released
// segments (all pages free and already decommitted) wait in a small cache so a program
// that frees and reallocates its working set does not pay for mmap/munmap each time.
#include "core/segment.h"

#include <string.h>

#include "core/registry.h"
#include "os/memory.h"
#include "os/process.h"

namespace tally {

bool g_keep_block_records = false;
uint32_t g_huge_pages_after_segments = kHugePagesAfterSegments;
std::atomic<uint64_t> g_slow_huge_fault_nanoseconds{1000 * 1000};
std::atomic<bool> g_huge_pages_slow{false};
void (*g_huge_fault_timing_started)(Segment* segment) = nullptr;
std::atomic<size_t> g_segments_in_use{0};
std::atomic<size_t> g_bytes_mapped{0};
std::atomic<size_t> g_bytes_committed{0};
std::atomic<size_t> g_bytes_committed_peak{0};

namespace {

constexpr unsigned kSegmentCacheLimit = 8;
constexpr size_t kRecordsSize = sizeof(BlockRecord) * kSlotsPerSegment * kMaxBlocksPerPage;

void unmap_segment(Segment* segment) {
  // The registry entry is cleared before the unmap so no free can reach a dead header.
  registry_set(reinterpret_cast<uintptr_t>(segment), kSegmentSize, 0);
  if (segment->records) {
    os_unmap(segment->records, kRecordsSize);
    g_bytes_mapped.fetch_sub(kRecordsSize, std::memory_order_relaxed);
  }
  if (MarkBooks* books = segment->mark_books.load(std::memory_order_acquire)) {
    os_unmap(books, sizeof(MarkBooks));
    g_bytes_mapped.fetch_sub(sizeof(MarkBooks), std::memory_order_relaxed);
  }
  os_unmap(segment, kSegmentSize);
  g_bytes_mapped.fetch_sub(kSegmentSize, std::memory_order_relaxed);
  g_bytes_committed.fetch_sub(kHeaderSlots * kSlotSize, std::memory_order_relaxed);
}

SpinLock g_cache_lock;
Segment* g_cache = nullptr;
unsigned g_cache_count = 0;

void segment_reset_header(Segment* segment, Heap* heap) {
  segment->heap = heap;
  segment->used_slots = kHeaderSlotMask;
  segment->next = segment->previous = nullptr;
  for (unsigned i = 0; i < kSlotsPerSegment; ++i) {
    Page& page = segment->pages[i];
    page.start = 0;
    page.reciprocal = 0;
    page.block_size = 0;
    page.capacity = 0;
    page.heap = nullptr;
    page.free_bits = segment->bitmaps[i].free_bits;
    page.remote_bits = segment->bitmaps[i].remote_bits;
    page.quarantine_bits = segment->bitmaps[i].quarantine_bits;
    page.records = segment->records ? segment->records + i * kMaxBlocksPerPage : nullptr;
    page.status = PageStatus::kUnused;
    page.head_distance = 0;
  }
}

}  // namespace

Segment* segment_acquire(Heap* heap, bool huge_pages) {
  Segment* segment = nullptr;
  {
    LockGuard guard(g_cache_lock);
    if (g_cache) {
      segment = g_cache;
      g_cache = segment->next;
      --g_cache_count;
    }
  }
  if (!segment) {
    segment = static_cast<Segment*>(os_map_aligned(kSegmentSize, kSegmentSize));
    if (!segment) return nullptr;
    // Before the header's first write, so that its first 2 MiB can fault in as one page.
    bool advised = huge_pages && os_advise_huge_pages(segment, kSegmentSize);
    if (!registry_prepare(reinterpret_cast<uintptr_t>(segment), kSegmentSize)) {
      os_unmap(segment, kSegmentSize);
      return nullptr;
    }
    BlockRecord* records = nullptr;
    if (g_keep_block_records) {
      records = static_cast<BlockRecord*>(os_map(kRecordsSize));
      if (!records) {
        os_unmap(segment, kSegmentSize);
        return nullptr;
      }
      g_bytes_mapped.fetch_add(kRecordsSize, std::memory_order_relaxed);
    }
    g_bytes_mapped.fetch_add(kSegmentSize, std::memory_order_relaxed);
    g_bytes_committed.fetch_add(kHeaderSlots * kSlotSize, std::memory_order_relaxed);
    // Only the automatic rule is timed: huge_pages=1 asked for huge pages whatever they cost.
    // The clock starts before the header's first write (records is in the header), which
    // faults in its first 2 MiB.
    bool timed = advised && g_huge_pages_after_segments != 0;
    if (timed && g_huge_fault_timing_started) g_huge_fault_timing_started(segment);
    uint64_t started = timed ? monotonic_nanoseconds() : 0;
    segment->records = records;
    segment_reset_header(segment, heap);
    segment->huge_pages_advised = advised;
    if (timed) segment_note_huge_fault(segment, monotonic_nanoseconds() - started);
    registry_set(reinterpret_cast<uintptr_t>(segment), kSegmentSize, kRegistrySegment);
  } else {
    segment_reset_header(segment, heap);
    // From the cache: its header is resident in small pages, but the slots that fault in
    // from now on can still come as huge pages. Advised before huge pages proved slow, it
    // loses the advice, so its decommitted parts fault back in as small pages.
    if (huge_pages && !segment->huge_pages_advised)
      segment->huge_pages_advised = os_advise_huge_pages(segment, kSegmentSize);
    else if (segment->huge_pages_advised && g_huge_pages_slow.load(std::memory_order_relaxed) &&
             g_huge_pages_after_segments != 0) {
      os_advise_small_pages(segment, kSegmentSize);
      segment->huge_pages_advised = false;
    }
  }
  g_segments_in_use.fetch_add(1, std::memory_order_relaxed);
  return segment;
}

TALLY_COLD void segment_note_huge_fault(Segment* segment, uint64_t nanoseconds) {
  if (nanoseconds <= g_slow_huge_fault_nanoseconds.load(std::memory_order_relaxed)) return;
  g_huge_pages_slow.store(true, std::memory_order_relaxed);
  constexpr size_t kHalf = kSegmentSize / 2;
  os_advise_small_pages(reinterpret_cast<char*>(segment) + kHalf, kHalf);
  segment->huge_pages_advised = false;
}

void segment_release(Segment* segment) {
  g_segments_in_use.fetch_sub(1, std::memory_order_relaxed);
  segment->heap = nullptr;
  {
    LockGuard guard(g_cache_lock);
    if (g_cache_count < kSegmentCacheLimit) {
      segment->next = g_cache;
      g_cache = segment;
      ++g_cache_count;
      return;
    }
  }
  unmap_segment(segment);
}

MarkBooks* segment_mark_books(Segment* segment) {
  MarkBooks* books = segment->mark_books.load(std::memory_order_acquire);
  if (TALLY_LIKELY(books != nullptr)) return books;
  auto* fresh = static_cast<MarkBooks*>(os_map(sizeof(MarkBooks)));
  if (!fresh) return nullptr;
  if (!segment->mark_books.compare_exchange_strong(books, fresh, std::memory_order_acq_rel)) {
    os_unmap(fresh, sizeof(MarkBooks));
    return books;
  }
  g_bytes_mapped.fetch_add(sizeof(MarkBooks), std::memory_order_relaxed);
  return fresh;
}

unsigned segment_find_slots(Segment* segment, unsigned count) {
  uint64_t free_slots = ~segment->used_slots;
  if (count == 1) return free_slots ? static_cast<unsigned>(__builtin_ctzll(free_slots)) : 0;
  // A run of `count` free slots starting at i: shift-and to find where one begins.
  uint64_t runs = free_slots;
  for (unsigned i = 1; i < count && runs; ++i) runs &= free_slots >> i;
  for (; runs; runs &= runs - 1) {
    unsigned first = static_cast<unsigned>(__builtin_ctzll(runs));
    if (first + count <= kSlotsPerSegment) return first;
  }
  return 0;
}

void segment_trim_cache() {
  Segment* list;
  {
    LockGuard guard(g_cache_lock);
    list = g_cache;
    g_cache = nullptr;
    g_cache_count = 0;
  }
  while (list) {
    Segment* next = list->next;
    unmap_segment(list);
    list = next;
  }
}

void segment_lock_for_fork() {
  g_cache_lock.lock();
}
void segment_unlock_after_fork(bool in_child) {
  g_cache_lock.release_after_fork(in_child);
}

}  // namespace tally
