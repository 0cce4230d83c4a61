// Thread heaps: the slow paths of allocation and free, harvesting of remote frees, page
// supply, and the life cycle of a heap (created, owned by a thread, abandoned at thread
// exit, adopted by a new thread).
//
// Racing frees. A block is live when its free bit and its remote bit are both clear.
//  - The owner frees with a plain test and set of the free word (only the owner writes it),
//    then loads the remote word. A set remote bit means another thread freed the block
//    first and the owner's free is the double one: it takes its bit back and reports.
//  - Another thread frees with fetch_or on the remote word (a locked instruction, a full
//    fence), then loads the free word. A set free bit means the owner freed it first,
//    unless a harvest moved the remote bit there meanwhile; the harvest sequence (odd while
//    harvesting, like a seqlock) tells.
// With no fence on the owner's side its store may still wait in its store buffer while its
// load of the remote word runs, so two racing frees can both miss each other and leave the
// block in both maps. That is caught before it can hurt: a harvest that finds a bit in both
// maps reports it late and keeps the block free once, and allocation never hands out a
// block whose remote bit is set (heap_allocate) but harvests first. What remains is an
// allocation that did not see the other thread's bit, and on x86 (TSO) that bit then
// became visible only after the allocation's load, so the other thread's free did not
// complete before the allocation began: it is ordered after it, a free of the new block,
// exactly what a double free after reuse is with any ordering (only the quarantine of the
// checked modes tells those apart). If the other free's load saw the owner's bit instead,
// it backs off and reports; if both see each other, both back off, the block stays live
// (a leak, never a corruption) and both are reported. Dropping the owner's locked
// instruction took small_churn from 0.36 to 0.30 s (docs/design.md, "Racing frees").
#include "core/heap.h"

#include <errno.h>
#include <pthread.h>

#include "core/large_blocks.h"
#include "core/metadata_arena.h"
#include "os/memory.h"
#include "os/process.h"

namespace tally {

__thread Heap* t_heap = nullptr;
__thread bool t_heap_given_back = false;
Page g_empty_page;
void (*g_report_late_double_free)(uintptr_t block, size_t size) = nullptr;
void (*g_before_heap_release)(Heap* heap) = nullptr;
bool g_track_live_estimate = false;
std::atomic<size_t> g_live_estimate{0};

// Visits the pages of the heap's newest `segment_limit` segments that hold blocks (not
// unused, not cached empty), each once at its first slot.
template <typename Visit>
void for_each_page_in_use(Heap* heap, unsigned segment_limit, Visit&& visit) {
  unsigned visited = 0;
  for (Segment* segment = heap->segments; segment && visited++ < segment_limit;
       segment = segment->next) {
    for (unsigned slot = kHeaderSlots; slot < kSlotsPerSegment; ++slot) {
      const Page& page = segment->pages[slot];
      if (page.head_distance != 0 || page.status == PageStatus::kUnused ||
          page.status == PageStatus::kEmpty)
        continue;
      visit(page);
    }
  }
}

// Walks the heap's pages for the bytes of its blocks that are not free. Only the owner
// (or, for an abandoned heap, its purger) may call it.
void refresh_live_estimate(Heap* heap) {
  heap->activity_since_estimate = 0;
  size_t estimate = 0;
  for_each_page_in_use(heap, UINT32_MAX,
                       [&](const Page& page) { estimate += size_t{page.used} * page.block_size; });
  // Unsigned wrap-around makes the difference right in both directions.
  g_live_estimate.fetch_add(estimate - heap->live_estimate, std::memory_order_relaxed);
  heap->live_estimate = estimate;
}

void heap_note_activity(Heap* heap, size_t bytes) {
  if (!g_track_live_estimate) return;
  heap->activity_since_estimate += bytes;
  size_t due =
      heap->live_estimate / 8 > (size_t{1} << 20) ? heap->live_estimate / 8 : (size_t{1} << 20);
  if (heap->activity_since_estimate >= due) refresh_live_estimate(heap);
}

namespace {

// Empty pages stay committed for a while so a program that frees and reallocates its
// working set does not fault every page in again; the budget and the delay bound what
// that costs in RSS.
// The budget is for the whole process, not per heap: a program with many threads must
// not keep many times its working set committed.
constexpr size_t kEmptyPageBudget = size_t{64} << 20;
std::atomic<size_t> g_empty_page_bytes{0};
constexpr uint32_t kPurgeDelayMilliseconds = 250;

std::atomic<uint64_t> g_zero_word[1];

SpinLock g_heaps_lock;
Heap* g_all_heaps = nullptr;
Heap* g_abandoned_heaps = nullptr;
pthread_key_t g_thread_exit_key;
bool g_thread_exit_key_created = false;

void thread_exit_destructor(void*) {
  t_heap_given_back = true;
  heap_release_for_thread();
}

// A page that gets blocks back joins its class's queue at the back, and allocation takes
// pages from the front: the page that has waited longest, and so had the most time to lose
// blocks, is refilled first, and fewer pages drain empty only to be handed to another size
// class. Pushed at the front (the first version), the page just freed into was refilled at
// once while the others drained: a program replacing random buffers of 8-128 KiB emptied
// 3,462 pages in a million steps instead of 1,135, and had 46 MB resident instead of 35 MB
// (mimalloc 30 MB). The programs of small blocks did not change (time, faults and resident
// memory within noise).
void queue_append(Heap* heap, Page* page) {
  Page*& last = heap->queue_last[page->size_class];
  page->next = nullptr;
  page->previous = last;
  if (last)
    last->next = page;
  else
    heap->queue[page->size_class] = page;
  last = page;
  page->status = PageStatus::kQueued;
}

void queue_remove(Heap* heap, Page* page) {
  if (page->previous)
    page->previous->next = page->next;
  else
    heap->queue[page->size_class] = page->next;
  if (page->next)
    page->next->previous = page->previous;
  else
    heap->queue_last[page->size_class] = page->previous;
  page->next = page->previous = nullptr;
}

// Moves the cursor to the first bitmap word with a free bit; false if there is none.
bool page_find_free_word(Page* page) {
  uint32_t words = page->bitmap_words();
  for (uint32_t w = page->cursor; w < words; ++w) {
    if (page->free_bits[w].load(std::memory_order_relaxed) != 0) {
      page->cursor = w;
      return true;
    }
  }
  page->cursor = words - 1;  // its word is zero, so the fast path falls through
  return false;
}

void page_initialize(Heap* heap, Page* page, unsigned size_class) {
  const SizeClassInfo& info = g_size_classes[base_class(size_class)];
  Segment* segment = segment_of(reinterpret_cast<uintptr_t>(page));
  unsigned slot = static_cast<unsigned>(page - segment->pages);
  // Where the page's bitmaps are, by how many words it needs (segment.h, OneWordBitmaps),
  // set before the fields that say how many words there are. They move only on a page that
  // was released (start 0, which a free rejects): an empty page still holding its start
  // goes only to a class of the same layout (take_empty_page).
  if (info.capacity <= 64) {
    page->free_bits = &segment->one_word_bitmaps.free_bits[slot];
    page->remote_bits = &segment->one_word_bitmaps.remote_bits[slot];
    page->quarantine_bits = &segment->one_word_bitmaps.quarantine_bits[slot];
  } else {
    page->free_bits = segment->bitmaps[slot].free_bits;
    page->remote_bits = segment->bitmaps[slot].remote_bits;
    page->quarantine_bits = segment->bitmaps[slot].quarantine_bits;
  }
  __asm__ volatile("" ::: "memory");  // the pointers are stored first, whatever the compiler
  page->heap = heap;
  page->block_size = info.block_size;
  page->capacity = info.capacity;
  page->reciprocal = info.reciprocal;
  page->size_class = static_cast<uint16_t>(size_class);
  page->used = 0;
  page->cursor = 0;
  page->next = page->previous = nullptr;
  uint32_t full_words = info.capacity / 64;
  uint32_t rest = info.capacity % 64;
  for (uint32_t w = 0; w < full_words; ++w) {
    page->free_bits[w].store(~uint64_t{0}, std::memory_order_relaxed);
    page->remote_bits[w].store(0, std::memory_order_relaxed);
    page->quarantine_bits[w].store(0, std::memory_order_relaxed);
  }
  if (rest) {
    page->free_bits[full_words].store((uint64_t{1} << rest) - 1, std::memory_order_relaxed);
    page->remote_bits[full_words].store(0, std::memory_order_relaxed);
    page->quarantine_bits[full_words].store(0, std::memory_order_relaxed);
  }
  if (page->has_ignored) {
    if (MarkBooks* books = segment->mark_books.load(std::memory_order_acquire))
      for (uint32_t w = 0; w < kBitmapWords; ++w)
        books->ignored[slot][w].store(0, std::memory_order_relaxed);
    page->has_ignored = 0;
  }
  __atomic_store_n(&page->start, segment->slot_address(slot), __ATOMIC_RELEASE);
}

// Gives a page's slots back to its segment and their memory back to the kernel.
void page_release(Heap* heap, Page* page) {
  Segment* segment = segment_of(reinterpret_cast<uintptr_t>(page));
  unsigned first = static_cast<unsigned>(page - segment->pages);
  unsigned count = page->slot_count;
  __atomic_store_n(&page->start, uintptr_t{0}, __ATOMIC_RELEASE);
  page->block_size = 0;
  page->capacity = 0;
  page->reciprocal = 0;
  page->heap = nullptr;
  page->status = PageStatus::kUnused;
  for (unsigned i = 1; i < count; ++i) segment->pages[first + i].head_distance = 0;
  os_decommit(reinterpret_cast<void*>(segment->slot_address(first)), count * kSlotSize);
  g_bytes_committed.fetch_sub(count * kSlotSize, std::memory_order_relaxed);
  uint64_t mask = (count == 64 ? ~uint64_t{0} : ((uint64_t{1} << count) - 1)) << first;
  segment->used_slots &= ~mask;
  if (segment->used_slots == kHeaderSlotMask) {
    // Under the heap-list lock: heap_for_each's visitors (statistics, mallinfo) walk other
    // threads' segment lists, and must never follow a link into a segment that is gone.
    LockGuard guard(g_heaps_lock);
    if (segment->previous)
      segment->previous->next = segment->next;
    else
      heap->segments = segment->next;
    if (segment->next) segment->next->previous = segment->previous;
    --heap->segment_count;
    segment_release(segment);
  }
}

Page* page_claim(Heap* heap, Segment* segment, unsigned first, unsigned count) {
  uint64_t mask = (count == 64 ? ~uint64_t{0} : ((uint64_t{1} << count) - 1)) << first;
  segment->used_slots |= mask;
  Page* page = &segment->pages[first];
  page->slot_count = static_cast<uint8_t>(count);
  page->head_distance = 0;
  for (unsigned i = 1; i < count; ++i)
    segment->pages[first + i].head_distance = static_cast<uint8_t>(i);
  size_t committed =
      g_bytes_committed.fetch_add(count * kSlotSize, std::memory_order_relaxed) + count * kSlotSize;
  size_t peak = g_bytes_committed_peak.load(std::memory_order_relaxed);
  while (committed > peak && !g_bytes_committed_peak.compare_exchange_weak(
                                 peak, committed, std::memory_order_relaxed)) {
  }
  (void)heap;
  return page;
}

void heap_purge_empty_pages(Heap* heap, bool everything);

// Whether the heap's next segment, wanted for a page of `size_class`, is offered as huge
// pages: past g_huge_pages_after_segments, for a heap of small blocks only. A huge page is
// resident whole, so the blocks must be ones a program touches whole: a program that uses
// the first bytes of 8-128 KiB buffers (a reserve that is never filled, a read buffer sized
// for the worst case) had 1.75 GB resident with the advice and 133 MB without, and ran 5x
// slower, the kernel zeroing 2 MiB where 4 KiB were used. Blocks of a page or less are
// touched a page at a time either way.
bool heap_wants_huge_pages(Heap* heap, unsigned size_class) {
  if (heap->segment_count < g_huge_pages_after_segments) return false;
  if (g_huge_pages_after_segments == 0) return true;  // huge_pages=1: asked for, every segment
  if (g_huge_pages_slow.load(std::memory_order_relaxed)) return false;
  if (g_size_classes[base_class(size_class)].block_size > kDenseBlockSize) return false;
  // The newest segments tell what the heap allocates now, and looking at no more than
  // these keeps the cost per new segment bounded however big the heap grows.
  constexpr unsigned kSegmentsLookedAt = 16;
  size_t dense = 0, all = 0;
  for_each_page_in_use(heap, kSegmentsLookedAt, [&](const Page& page) {
    size_t bytes = size_t{page.used} * page.block_size;
    all += bytes;
    if (page.block_size <= kDenseBlockSize) dense += bytes;
  });
  return dense >= all - all / 8;  // at least seven eighths of the heap's blocks are small
}

// A retired page for blocks of `base`: one that held this class before, or else one of the
// nearest class with the same span. A page keeps the memory its blocks touched, and a
// block is touched first (often only) at its start: given to another block size, a page
// touches new memory at the new blocks' starts and keeps the old, which none of its new
// blocks may ever use. A program that replaced random buffers of 8-128 KiB, using their
// first bytes, had pages change class 2,143 times in a million steps (431 went back to
// their own) and 60 MB resident at the end, 35 MB after the first 100,000 steps (mimalloc
// 30 MB); looked up by class, 826 changed (1,748 went back). docs/design.md, "Empty pages,
// and which page is refilled", has the figures of both changes.
Page* take_empty_page(Heap* heap, unsigned base) {
  unsigned slots = g_size_classes[base].slot_count;
  Page** list = &heap->empty_pages[base];
  // A page handed to another class keeps its start, so a racing bad free may still read
  // its old fields: only a class whose bitmaps sit in the same place takes it (a page of
  // one-word bitmaps switched to a slot's words, or back, could be written past its row).
  bool one_word = g_size_classes[base].capacity <= 64;
  auto fits = [&](unsigned other) {
    return g_size_classes[other].slot_count == slots &&
           (g_size_classes[other].capacity <= 64) == one_word;
  };
  for (unsigned distance = 1; !*list && distance < kClassCount; ++distance) {
    bool below = distance <= base && fits(base - distance);
    bool above = base + distance < kClassCount && fits(base + distance);
    if (!below && !above) break;  // classes of one span are adjacent
    if (below && heap->empty_pages[base - distance])
      list = &heap->empty_pages[base - distance];
    else if (above)
      list = &heap->empty_pages[base + distance];
  }
  Page* page = *list;
  if (!page) return nullptr;
  *list = page->next;
  heap->empty_bytes -= slots * kSlotSize;
  g_empty_page_bytes.fetch_sub(slots * kSlotSize, std::memory_order_relaxed);
  return page;
}

Page* heap_fresh_page(Heap* heap, unsigned size_class) {
  unsigned count = g_size_classes[base_class(size_class)].slot_count;
  heap_purge_empty_pages(heap, false);
  Page* page = take_empty_page(heap, base_class(size_class));
  for (Segment* segment = heap->segments; !page && segment; segment = segment->next) {
    unsigned first = segment_find_slots(segment, count);
    if (first) page = page_claim(heap, segment, first, count);
  }
  if (!page) {
    Segment* segment = segment_acquire(heap, heap_wants_huge_pages(heap, size_class));
    if (!segment) return nullptr;
    segment->next = heap->segments;
    if (heap->segments) heap->segments->previous = segment;
    heap->segments = segment;
    ++heap->segment_count;
    page = page_claim(heap, segment, segment_find_slots(segment, count), count);
  }
  page_initialize(heap, page, size_class);
  heap_note_activity(heap, count * kSlotSize);
  return page;
}

// Decommits the cached empty pages retired more than kPurgeDelay ago (all if `everything`).
void heap_purge_abandoned(uint32_t now);
void heap_collect_incoming(Heap* heap);
void heap_retire_page(Heap* heap, Page* page);

void heap_purge_empty_pages(Heap* heap, bool everything) {
  uint32_t now = monotonic_milliseconds();
  if (!everything && now - heap->last_purge < kPurgeDelayMilliseconds / 4) return;
  heap->last_purge = now;
  if (!heap->abandoned) heap_purge_abandoned(now);
  // Big buffers a program stopped using: with no large-block call to purge them, the
  // cache kept up to its whole budget resident for good.
  if (!everything) large_purge_expired();
  for (Page*& list : heap->empty_pages) {
    // Lists are newest first: cut at the first page old enough, release it and the rest.
    Page** link = &list;
    while (*link && !everything && now - (*link)->retired_at < kPurgeDelayMilliseconds)
      link = &(*link)->next;
    Page* expired = *link;
    *link = nullptr;
    while (expired) {
      Page* next = expired->next;
      heap->empty_bytes -= expired->slot_count * kSlotSize;
      g_empty_page_bytes.fetch_sub(expired->slot_count * kSlotSize, std::memory_order_relaxed);
      page_release(heap, expired);
      expired = next;
    }
  }
}

// Abandoned heaps run no slow paths of their own: live threads purge their expired empty
// pages for them, one heap at a time, marking it so that nobody adopts it meanwhile. (The
// purger once took the whole list: a purger preempted halfway left every new thread to
// make a fresh heap, and a churn of short threads on an oversubscribed machine mapped
// twice the memory it needed.)
uint32_t g_last_abandoned_purge = 0;

// A heap left unadopted since its thread exited lets its current pages go like any other:
// queued, or retired (and then decommitted once expired) when empty.
void give_up_current_pages(Heap* heap) {
  for (unsigned c = 0; c < kHeapClassCount; ++c) {
    Page* page = heap->current[c];
    if (page == &g_empty_page) continue;
    heap->current[c] = &g_empty_page;
    queue_append(heap, page);
    if (page->used == 0) heap_retire_page(heap, page);
  }
}

void heap_purge_abandoned(uint32_t now) {
  if (now - __atomic_load_n(&g_last_abandoned_purge, __ATOMIC_RELAXED) < kPurgeDelayMilliseconds)
    return;
  if (!g_heaps_lock.try_lock()) return;
  g_last_abandoned_purge = now;
  Heap* first = g_all_heaps;  // heaps are never freed, and next_all never changes
  g_heaps_lock.unlock();
  for (Heap* heap = first; heap; heap = heap->next_all) {
    {
      LockGuard guard(g_heaps_lock);
      if (!heap->abandoned || heap->being_purged || heap->orphaned) continue;
      heap->being_purged = true;
    }
    // Blocks freed into it since its thread left (in safe mode, its whole quarantine, which
    // other threads release later) are collected too, so that pages they empty are retired
    // and decommitted, and its estimate of live bytes follows: left as its thread last saw
    // it, it counted those blocks as live, and the quarantine's bound, a share of the live
    // heap, grew with them (1000 exited threads left a 164 MiB quarantine and 872 MB
    // resident to a process that went on with one thread and 200 KB live).
    heap_collect_incoming(heap);
    // Signed: a thread that left after `now` was read has abandoned_at past it.
    if (static_cast<int32_t>(now - heap->abandoned_at) >= int32_t{kPurgeDelayMilliseconds})
      give_up_current_pages(heap);
    heap_purge_empty_pages(heap, false);
    if (g_track_live_estimate) refresh_live_estimate(heap);
    LockGuard guard(g_heaps_lock);
    heap->being_purged = false;
  }
}

// Blocks a harvest found in both maps (two frees that missed each other, "Racing frees"),
// to be reported once the caller's books are consistent: a report may allocate (the
// unwinder's first use loads libgcc_s), and an allocation from the page between a word's
// load and its store, or while the page is half retired, would be undone or corrupt a list.
struct LateDoubleFrees {
  uint64_t twice[kBitmapWords];
  uint64_t words = 0;  // bit w: twice[w] holds the blocks of word w found in both maps
  uintptr_t start = 0;
  size_t block_size = 0;
};

void page_harvest_noting(Page* page, LateDoubleFrees* found);
void report_late_double_frees(const LateDoubleFrees& found);
void retire_harvested_page(Heap* heap, Page* page);

void heap_retire_page(Heap* heap, Page* page) {
  // Every block is free, so a remote bit now is a block in both maps: an owner's free and
  // another thread's that missed each other ("Racing frees"). Found before the page can be
  // set up afresh, which clears its words, and reported once it is retired. The fence
  // drains the owner's last free, so a remote bit that missed it (set before the other free
  // read the free word) is visible.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  LateDoubleFrees found;
  for (uint32_t w = 0; w < page->bitmap_words(); ++w) {
    if (page->remote_bits[w].load(std::memory_order_relaxed) != 0) {
      page_harvest_noting(page, &found);
      break;
    }
  }
  retire_harvested_page(heap, page);
  report_late_double_frees(found);
}

void retire_harvested_page(Heap* heap, Page* page) {
  queue_remove(heap, page);
  size_t span = page->slot_count * kSlotSize;
  if (g_empty_page_bytes.load(std::memory_order_relaxed) + span <= kEmptyPageBudget) {
    g_empty_page_bytes.fetch_add(span, std::memory_order_relaxed);
    page->status = PageStatus::kEmpty;
    page->retired_at = monotonic_milliseconds();
    Page*& list = heap->empty_pages[base_class(page->size_class)];
    page->next = list;
    list = page;
    heap->empty_bytes += span;
  } else {
    page_release(heap, page);
  }
  heap_purge_empty_pages(heap, false);
}

// Moves other threads' frees of `page` into its free bitmap, noting blocks in both maps.
void page_harvest_noting(Page* page, LateDoubleFrees* found) {
  page->harvest_sequence.fetch_add(1, std::memory_order_seq_cst);
  uint32_t words = page->bitmap_words();
  uint32_t freed = 0;
  found->start = page->start;
  found->block_size = page->block_size;
  for (uint32_t w = 0; w < words; ++w) {
    if (page->remote_bits[w].load(std::memory_order_relaxed) == 0) continue;
    // Free bits first, remote bits cleared after: a block is never neither (which would make
    // it live for a moment, a block no pointer names: a false leak to a check that stopped
    // this thread there). Bits other threads set meanwhile stay for the next harvest.
    uint64_t taken = page->remote_bits[w].load(std::memory_order_seq_cst);
    uint64_t local = page->free_bits[w].load(std::memory_order_relaxed);
    uint64_t both = local & taken;
    if (both) {
      found->twice[w] = both;
      found->words |= uint64_t{1} << w;
    }
    uint64_t remote = taken & ~both;
    page->free_bits[w].store(local | remote, std::memory_order_seq_cst);
    page->remote_bits[w].fetch_and(~taken, std::memory_order_seq_cst);
    // A release from another thread's quarantine leaves its claim for the owner to drop
    // (really_free_small, checked modes): the block is free from here.
    if (g_keep_block_records && (page->quarantine_bits[w].load(std::memory_order_relaxed) & taken))
      page->quarantine_bits[w].fetch_and(~taken, std::memory_order_seq_cst);
    freed += static_cast<uint32_t>(__builtin_popcountll(remote));
    if (remote && w < page->cursor) page->cursor = w;
  }
  page->harvest_sequence.fetch_add(1, std::memory_order_seq_cst);
  page->used -= freed;
}

void report_late_double_frees(const LateDoubleFrees& found) {
  if (!g_report_late_double_free) return;
  for (uint64_t words = found.words; words; words &= words - 1) {
    unsigned w = static_cast<unsigned>(__builtin_ctzll(words));
    for (uint64_t bits = found.twice[w]; bits; bits &= bits - 1) {
      uintptr_t index = w * 64 + static_cast<unsigned>(__builtin_ctzll(bits));
      g_report_late_double_free(found.start + index * found.block_size, found.block_size);
    }
  }
}

// A harvest whose caller looks at the page afresh after it (its reports may allocate).
void page_harvest(Page* page) {
  LateDoubleFrees found;
  page_harvest_noting(page, &found);
  report_late_double_frees(found);
}

void heap_collect_incoming(Heap* heap) {
  if (heap->incoming.load(std::memory_order_relaxed) == nullptr) return;
  Page* list = heap->incoming.exchange(nullptr, std::memory_order_acquire);
  while (list) {
    Page* page = list;
    list = page->incoming_next;  // read before the flag is cleared and the link reused
    page->in_incoming.store(0, std::memory_order_seq_cst);
    if (page->heap != heap || page->status == PageStatus::kUnused) continue;
    page_harvest(page);
    if (page->status == PageStatus::kFull && page->used < page->capacity) queue_append(heap, page);
    if (page->used == 0 && page->status == PageStatus::kQueued) heap_retire_page(heap, page);
  }
}

Heap* heap_create() {
  Heap* heap = static_cast<Heap*>(metadata_allocate(sizeof(Heap)));
  if (!heap) return nullptr;
  if (g_empty_page.free_bits == nullptr) {
    g_empty_page.free_bits = g_zero_word;
    g_empty_page.remote_bits = g_zero_word;
  }
  for (unsigned c = 0; c < kHeapClassCount; ++c) heap->current[c] = &g_empty_page;
  heap->checked = g_keep_block_records;
  heap->guard_countdown = 0;  // drawn at the first checked allocation
  return heap;
}

}  // namespace

void* heap_allocate_slow(Heap* heap, unsigned size_class) {
  heap_collect_incoming(heap);
  Page* page = heap->current[size_class];
  if (page != &g_empty_page) {
    if (page_find_free_word(page)) return heap_allocate(heap, size_class);
    page->status = PageStatus::kFull;
    heap->current[size_class] = &g_empty_page;
  }
  while ((page = heap->queue[size_class]) != nullptr) {
    queue_remove(heap, page);
    if (page_find_free_word(page)) break;
    page->status = PageStatus::kFull;
  }
  if (!page) page = heap_fresh_page(heap, size_class);
  if (!page) {
    heap_trim(heap);
    segment_trim_cache();
    page = heap_fresh_page(heap, size_class);
    if (!page) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  page->status = PageStatus::kCurrent;
  heap->current[size_class] = page;
  return heap_allocate(heap, size_class);
}

void* heap_allocate_after_racing_free(Heap* heap, unsigned size_class) {
  // The harvest reports the block's second free and leaves it free once, in the free map
  // only; the page stays current and the allocation takes the block normally.
  page_harvest(heap->current[size_class]);
  return heap_allocate(heap, size_class);
}

void heap_page_freed_slow(Heap* heap, Page* page) {
  if (page->status == PageStatus::kFull) queue_append(heap, page);
  if (page->used == 0 && page->status == PageStatus::kQueued) heap_retire_page(heap, page);
}

void page_forget_ignored(Page* page, uint32_t index) {
  Segment* segment = segment_of(reinterpret_cast<uintptr_t>(page));
  MarkBooks* books = segment->mark_books.load(std::memory_order_acquire);
  if (!books) return;
  unsigned slot = static_cast<unsigned>(page - segment->pages);
  books->ignored[slot][index >> 6].fetch_and(~(uint64_t{1} << (index & 63)),
                                             std::memory_order_relaxed);
}

FreeOutcome heap_resolve_racing_free(Page* page, uint32_t word, uint64_t bit) {
  // Another thread's free of this block is waiting in the remote map: ours is the second.
  page->free_bits[word].fetch_and(~bit, std::memory_order_seq_cst);
  return FreeOutcome::kDoubleFree;
}

FreeOutcome heap_free_remote(Page* page, uint32_t index) {
  uint32_t word = index >> 6;
  uint64_t bit = uint64_t{1} << (index & 63);
  uint32_t sequence = page->harvest_sequence.load(std::memory_order_seq_cst);
  if (page->free_bits[word].load(std::memory_order_seq_cst) & bit) return FreeOutcome::kDoubleFree;
  if (page->remote_bits[word].fetch_or(bit, std::memory_order_seq_cst) & bit)
    return FreeOutcome::kDoubleFree;
  if ((page->free_bits[word].load(std::memory_order_seq_cst) & bit) && (sequence & 1) == 0 &&
      page->harvest_sequence.load(std::memory_order_seq_cst) == sequence) {
    page->remote_bits[word].fetch_and(~bit, std::memory_order_seq_cst);
    return FreeOutcome::kDoubleFree;
  }
  if (page->in_incoming.load(std::memory_order_relaxed) == 0 &&
      page->in_incoming.exchange(1, std::memory_order_seq_cst) == 0) {
    Heap* owner = page->heap;
    Page* head = owner->incoming.load(std::memory_order_relaxed);
    do {
      page->incoming_next = head;
    } while (!owner->incoming.compare_exchange_weak(head, page, std::memory_order_release,
                                                    std::memory_order_relaxed));
  }
  return FreeOutcome::kFreed;
}

Heap* heap_acquire_for_thread() {
  Heap* heap = nullptr;
  {
    LockGuard guard(g_heaps_lock);
    Heap** link = &g_abandoned_heaps;
    while (*link && (*link)->being_purged) link = &(*link)->next_abandoned;
    if (*link) {
      heap = *link;
      *link = heap->next_abandoned;
      heap->next_abandoned = nullptr;
      heap->abandoned = false;
    } else {
      heap = heap_create();
      if (!heap) return nullptr;
      heap->next_all = g_all_heaps;
      g_all_heaps = heap;
    }
    if (!g_thread_exit_key_created) {
      g_thread_exit_key_created =
          pthread_key_create(&g_thread_exit_key, thread_exit_destructor) == 0;
    }
  }
  heap->thread_number = current_thread_number();
  t_heap = heap;
  // May allocate (for keys past the first block); t_heap is already set for that.
  if (g_thread_exit_key_created) pthread_setspecific(g_thread_exit_key, heap);
  return heap;
}

void heap_release_for_thread() {
  Heap* heap = t_heap;
  if (!heap) return;
  if (g_before_heap_release) g_before_heap_release(heap);
  heap_collect_incoming(heap);
  // The current pages stay current, for the thread that adopts this heap; a heap nobody
  // adopts gives them up when it is purged (heap_purge_abandoned). Retired here, the pages
  // of many threads that exit together ran over the empty-page budget, and each was
  // decommitted on the spot: 250 threads ending a burst made 8,000 madvise calls, each a
  // TLB shootdown on every processor (a quarter of bursty_threads' time), and the next
  // burst's threads faulted the pages in again.
  // Exits still drive the purge (rate-limited): this heap's expired empty pages, and the
  // current pages of heaps left unadopted for the purge delay.
  heap_purge_empty_pages(heap, false);
  heap->abandoned_at = monotonic_milliseconds();
  t_heap = nullptr;
  LockGuard guard(g_heaps_lock);
  heap->abandoned = true;
  heap->next_abandoned = g_abandoned_heaps;
  g_abandoned_heaps = heap;
}

void heap_purge_expired(Heap* heap) {
  heap_purge_empty_pages(heap, false);
}

void heap_trim(Heap* heap) {
  heap_collect_incoming(heap);
  heap_purge_empty_pages(heap, true);
}

void heap_for_each(void (*visit)(Heap* heap, void* context), void* context) {
  LockGuard guard(g_heaps_lock);
  heap_for_each_locked(visit, context);
}

void heap_for_each_locked(void (*visit)(Heap* heap, void* context), void* context) {
  for (Heap* heap = g_all_heaps; heap; heap = heap->next_all) visit(heap, context);
}

void heap_lock_for_fork() {
  g_heaps_lock.lock();
}

// A remote free that the fork stopped between claiming a page's place on its heap's
// incoming list (in_incoming) and pushing the page left it claimed and on no list: no
// harvest would ever reach it, and every block freed into it later was lost to the child
// (the claim made other remote frees skip the push). Only the forking thread runs in the
// child, so the lists can be repaired without atomics: the listed pages are told apart by
// a passing flag value, and every page still claimed is pushed.
void relink_incoming_after_fork(Heap* heap) {
  constexpr uint8_t kListed = 2;
  for (Page* page = heap->incoming.load(std::memory_order_relaxed); page;
       page = page->incoming_next)
    page->in_incoming.store(kListed, std::memory_order_relaxed);
  for (Segment* segment = heap->segments; segment; segment = segment->next) {
    for (unsigned slot = kHeaderSlots; slot < kSlotsPerSegment; ++slot) {
      Page* page = &segment->pages[slot];
      if (page->start == 0 || page->head_distance != 0 || page->heap != heap) continue;
      uint8_t claim = page->in_incoming.load(std::memory_order_relaxed);
      if (claim == kListed) {
        page->in_incoming.store(1, std::memory_order_relaxed);
      } else if (claim != 0) {
        page->incoming_next = heap->incoming.load(std::memory_order_relaxed);
        heap->incoming.store(page, std::memory_order_relaxed);
      }
    }
  }
}

void heap_unlock_after_fork(bool in_child) {
  if (!in_child) {
    g_heaps_lock.unlock();
    return;
  }
  g_heaps_lock.reset();
  // Only the forking thread lives on in the child. A heap abandoned before the fork, and
  // not being purged, is consistent: the child's threads may adopt it. Every other heap
  // was in the hands of a thread that did not come along, which may have stopped halfway
  // through an update that takes no lock (a harvest with a block both free and remotely
  // freed, an allocation counted in the bitmap but not in `used`, a release with its
  // quarantine claims not yet dropped). Adopted, such a heap handed out blocks that were
  // still quarantined or reported frees of the child's own blocks as double (in about one
  // fork in two thousand while other threads allocated). So those heaps are orphaned:
  // never adopted or purged; the child's frees of their blocks still go to them as
  // remote frees. Their pages are never written, so they stay shared with the parent.
  g_abandoned_heaps = nullptr;
  for (Heap* heap = g_all_heaps; heap; heap = heap->next_all) {
    if (heap == t_heap) {
      relink_incoming_after_fork(heap);
      continue;
    }
    if (!heap->abandoned || heap->being_purged) heap->orphaned = true;
    heap->abandoned = true;  // so the quarantine hands it no batches
    if (heap->orphaned) continue;
    relink_incoming_after_fork(heap);
    heap->next_abandoned = g_abandoned_heaps;
    g_abandoned_heaps = heap;
  }
}

}  // namespace tally
