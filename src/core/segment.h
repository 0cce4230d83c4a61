// Segments and pages: where small blocks live, and the books that say which are free.
//
// A segment is kSegmentSize bytes aligned to its size. Its first kHeaderSlots slots hold
// the header (this struct); the other slots hold pages. A page spans one or more slots and
// holds blocks of one size class. All allocator state lives in the header, never beside
// user bytes, so an overflow or a write after free cannot corrupt the books.
//
// Each page has two bitmaps (1 = free), and a third in the checked modes:
//   free_bits   written only by the owning heap's thread (allocation clears a bit, a local
//               free sets it with a plain instruction after testing it);
//   remote_bits set atomically by other threads' frees, harvested by the owner.
//   quarantine_bits set atomically by a free in safe and debug modes, cleared when the
//               block leaves quarantine and is really freed, always after its free or
//               remote bit is set: by the owner's release in bulk, a word at a time (see
//               ClaimDrops in heap.h), or by the owner's harvest after another thread's.
// A block is live exactly when all its bits are clear. A free sets its own bitmap's
// bit and then reads the other bitmap; two racing frees that miss each other leave the
// block in both maps, which the harvest reports and allocation never hands out, so a
// block never reaches two owners (see heap.cc, "Racing frees"). The harvest is bracketed
// by a sequence count so a remote free that races it does not mistake its own harvested
// bit for a double free.
#pragma once

#include <stddef.h>

#include <atomic>

#include "core/block_record.h"
#include "core/config.h"
#include "core/size_classes.h"

namespace tally {

struct Heap;

enum class PageStatus : uint8_t {
  kUnused,   // slot holds no page
  kCurrent,  // the heap allocates from it (heap->current[size_class])
  kQueued,   // has free blocks, waits in the heap's queue for its class
  kFull,     // no free block; a free brings it back to the queue
  kEmpty,    // no live block; kept committed in the heap's cache of empty pages
};

struct alignas(128) Page {  // a power of two, so indexing the descriptors is a shift
  // Two cache lines, split by who writes them. The first is what a free from any thread
  // reads: other threads' frees read it on every call, so the owner must not write it on
  // its fast paths, or each of its allocations takes the line back from the freeing core
  // and each remote free misses on it (8% of xmalloc_test-t2's time, 0.89 -> 0.82 s when
  // the counters left it). The second holds the owner's counters, which its malloc and
  // free write, and the slow paths' and checked modes' fields. A local malloc or free
  // touches both lines; small_churn, all local, ran the same either way.
  //
  // Written only while the page is set up or released, when it holds no live block, and
  // (harvest_sequence, in_incoming, status) once per harvest, batch of remote frees or
  // change of queue, never per block.
  uintptr_t start;  // address of block 0; 0 when the slot holds no page
  uint64_t reciprocal;
  uint32_t block_size;
  uint32_t capacity;
  Heap* heap;
  std::atomic<uint64_t>* free_bits;
  std::atomic<uint64_t>* remote_bits;
  std::atomic<uint32_t> harvest_sequence;  // odd while the owner harvests
  std::atomic<uint8_t> in_incoming;        // on the owner heap's incoming list
  uint8_t slot_count;
  uint8_t head_distance;  // slots back to the page's first slot (0 at the first slot)
  PageStatus status;
  uint16_t size_class;
  // Some block of the page is ignored by the leak check (tally_ignore_leak): frees of the
  // page's blocks take the slow path, which forgets the block's ignored bit.
  uint8_t has_ignored;

  // Second line: owner only (the counters its fast paths write, the slow paths' links),
  // and the checked modes' books.
  alignas(64) uint32_t used;  // live blocks, as far as harvested frees go
  uint32_t cursor;            // no free bit below this bitmap word
  // Checked modes: 1 = freed and held in quarantine (the block is neither live nor free).
  std::atomic<uint64_t>* quarantine_bits;
  BlockRecord* records;  // checked modes: one per block; nullptr in fast mode
  uint32_t retired_at;   // kEmpty pages: monotonic_milliseconds() when the last block left
  Page* next;
  Page* previous;
  Page* incoming_next;  // written by the remote freer that puts the page on the list

  uint32_t bitmap_words() const { return (capacity + 63) / 64; }
};

// The marker's books for every block of a segment (mark/), in a side mapping made on first
// use (touched only where pages are), so programs that never mark pay nothing:
//   marks    one byte per block, set when a mark starts (kMarkReached for blocks that are
//            not live, kMarkNone for the others) and during it: a byte, not a bit, so that
//            workers mark with a plain store (no locked instruction; two workers racing on
//            one block both scan it, which is harmless);
//   ignored  tally_ignore_leak: the block and what it reaches are never reported (cleared
//            when the block is freed or its page is set up again).
enum : uint8_t {
  kMarkNone = 0,      // not reached (yet)
  kMarkReached = 1,   // reached from the roots, or not a live block
  kMarkIndirect = 2,  // leak check: reached only from leaked blocks
  kMarkPending = 3,   // during a mark: reached, left for the sweep of its segment to scan
};
//   views    the pages as the marker sees them, one entry per slot (a page's entry in
//            each of its slots), filled when a mark begins: the pointer test reads one
//            entry instead of the page descriptor and the segment header.
struct MarkSlotView {
  uintptr_t start;  // 0: no page here
  uint64_t reciprocal;
  std::atomic<uint8_t>* marks;  // the page's mark bytes
  uint32_t block_size;
  uint16_t capacity;
  uint8_t no_scan;
};
struct MarkBooks {
  // One byte per block, each page's run placed by the marker at the start of every mark
  // (MarkSlotView::marks), one after the other: laid out by slot, at most 4096 bytes a
  // slot, the bytes of a page of 48-byte blocks touched one memory page in three, and
  // first touching the books (the check at exit) cost a page fault for each.
  std::atomic<uint8_t> marks[kSlotsPerSegment * kMaxBlocksPerPage];
  std::atomic<uint64_t> ignored[kSlotsPerSegment][kBitmapWords];
  MarkSlotView views[kSlotsPerSegment];
  // Set while the segment waits in the marker's sweep queue (or is about to be put there),
  // on a line of its own: workers set it while others read the views.
  alignas(64) std::atomic<uint8_t> sweep_queued;
  std::atomic<uint8_t> sweeps;  // sweeps of the segment in the current mark
  // Set once a second worker has swept slots of the segment alongside its sweeper: a
  // block left pending there may have been passed, and the marker looks for such blocks
  // after the sweeps.
  std::atomic<uint8_t> shared_sweep;
  // The next slot a sweep of the segment takes, from the top down: slots above it are
  // taken (swept, being swept, or skipped), those at or below it are still to come.
  std::atomic<int32_t> next_slot;
  // Workers in a sweep of the segment (its sweeper and those alongside it). Each waits for
  // the others to leave before queueing the segments it left pending blocks in (unless it
  // notes more than 16, which flushes them early): a segment swept while a slot above it
  // that points into it is still being swept would hand every block that slot reaches
  // there to the stack, and the chains below them with it.
  std::atomic<int32_t> sweepers;
};

// A slot's three bitmaps, side by side, for pages of more than 64 blocks: a page touches
// its words within 1.5 KiB. Laid out as three arrays indexed by slot, the words were 32 KiB
// apart and each page first-touched three header pages. Pages of at most 64 blocks use
// OneWordBitmaps below instead.
struct SlotBitmaps {
  alignas(64) std::atomic<uint64_t> free_bits[kBitmapWords];
  alignas(64) std::atomic<uint64_t> remote_bits[kBitmapWords];
  alignas(64) std::atomic<uint64_t> quarantine_bits[kBitmapWords];
};

// The bitmaps of pages of at most 64 blocks (blocks of 1 KiB and up), one word each, in
// three rows indexed by the page's first slot: a segment of such pages touches one header
// page for its bitmaps instead of one per slot. A program with thousands of 8-128 KiB
// buffers took a quarter of its page faults beyond mimalloc's there (sparse_buffers: 24 of
// the 26 header pages of each segment). The rows' words are the owner's (free) or shared
// the way a slot's words are (remote, quarantine), each row on lines of its own.
struct OneWordBitmaps {
  alignas(64) std::atomic<uint64_t> free_bits[kSlotsPerSegment];
  alignas(64) std::atomic<uint64_t> remote_bits[kSlotsPerSegment];
  alignas(64) std::atomic<uint64_t> quarantine_bits[kSlotsPerSegment];
};

struct Segment {
  Heap* heap;
  uint64_t used_slots;  // bit i: slot i belongs to a page (header slots always set)
  Segment* next;        // in the owning heap's list, or the global segment cache
  Segment* previous;
  alignas(128) Page pages[kSlotsPerSegment];
  alignas(64) SlotBitmaps bitmaps[kSlotsPerSegment];
  OneWordBitmaps one_word_bitmaps;
  BlockRecord* records;  // side mapping of kSlotsPerSegment * kMaxBlocksPerPage records
  std::atomic<MarkBooks*> mark_books;  // null until first needed
  bool huge_pages_advised;  // all of it advised for huge pages (kept while cached); false
                            // once a slow huge fault took the advice from its second half

  uintptr_t slot_address(unsigned slot) const {
    return reinterpret_cast<uintptr_t>(this) + (uintptr_t{slot} << kSlotShift);
  }
};
static_assert(sizeof(Segment) <= kHeaderSlots * kSlotSize, "segment header too large");
static_assert(sizeof(Page) == 128, "page descriptors are indexed by shifting");
static_assert(offsetof(Page, has_ignored) < 64 && offsetof(Page, used) == 64,
              "what every free reads shares no cache line with what the owner writes");
constexpr uint64_t kHeaderSlotMask = (uint64_t{1} << kHeaderSlots) - 1;

TALLY_INLINE Segment* segment_of(uintptr_t address) {
  return reinterpret_cast<Segment*>(address & ~kSegmentMask);
}

// The page that holds `address`, which must lie in a registered segment.
TALLY_INLINE Page* page_of(Segment* segment, uintptr_t address) {
  Page* slot_page = &segment->pages[(address & kSegmentMask) >> kSlotShift];
  // A branch, not arithmetic on the distance: most pages span one slot, and a predicted
  // branch lets the loads of the page's fields start before the distance is read. On the
  // free path that wait was a tenth of small_churn's time (0.36 -> 0.34 s).
  uint8_t distance = slot_page->head_distance;
  if (TALLY_LIKELY(distance == 0)) return slot_page;
  return slot_page - distance;
}

// Index of the block that starts at `address`, or UINT32_MAX if `address` is not the
// start of a block of `page` (interior pointer, header, slot without a page).
TALLY_INLINE uint32_t block_index_of(const Page* page, uintptr_t address) {
  uintptr_t offset = address - page->start;
  uint64_t index = (offset * page->reciprocal) >> kReciprocalShift;
  if (TALLY_UNLIKELY(index * page->block_size != offset || index >= page->capacity))
    return UINT32_MAX;
  return static_cast<uint32_t>(index);
}

// No free, remote or quarantine bit: the block is the program's. A racy snapshot.
TALLY_INLINE bool page_is_live(const Page* page, uint32_t index) {
  uint64_t bit = uint64_t{1} << (index & 63);
  uint32_t word = index >> 6;
  return ((page->free_bits[word].load(std::memory_order_acquire) |
           page->remote_bits[word].load(std::memory_order_acquire) |
           page->quarantine_bits[word].load(std::memory_order_acquire)) &
          bit) == 0;
}

TALLY_INLINE BlockRecord* record_of(const Page* page, uint32_t index) {
  return page->records + index;
}

// The segment's mark books, made on first use (any thread may race to make them); nullptr
// when the kernel refuses the memory.
MarkBooks* segment_mark_books(Segment* segment);

// Transparent huge pages. A heap's next segment is offered to the kernel as a huge-page
// candidate (madvise MADV_HUGEPAGE) once the heap holds this many segments already; 0: every
// segment; kNeverHugePages: none (option huge_pages). Huge pages spare a big heap one page
// fault per 4 KiB and most of its TLB misses (the marker's sweep among them); holding them
// back from small heaps bounds what a half-used huge page adds to the resident set: at most
// 2 MiB per heap that already holds 32 MiB (see docs/design.md, "Huge pages"). With the
// option at its default the rule has a second half, kDenseBlockSize below.
constexpr uint32_t kHugePagesAfterSegments = 8;
// And only for a heap whose blocks are nearly all this big or smaller (heap_fresh_page):
// bigger blocks may be touched only in part, and a huge page makes all of it resident.
constexpr uint32_t kDenseBlockSize = 4096;
constexpr uint32_t kNeverHugePages = UINT32_MAX;

// The rule's last condition: huge pages only where they fault in faster than the small
// pages they replace. A virtual machine whose host backs guest memory lazily (Firecracker,
// as on our CI machines) took 5 ms to fault in a fresh 2 MiB page, against 0.25 ms once the
// host had backed it and 0.75 ms for 512 small pages: jq ran 1.75x mimalloc's time. So the
// first write to each new advised segment (its header, which faults in its first 2 MiB)
// is timed, and one slower than this (1 ms) ends the advice for new and cached segments
// (huge_pages=1, asked for, is left alone). Tests may change the threshold.
extern std::atomic<uint64_t> g_slow_huge_fault_nanoseconds;
extern std::atomic<bool> g_huge_pages_slow;
// The first 2 MiB of a new advised `segment` faulted in in `nanoseconds`: past the
// threshold, the advice ends (and the segment's second half gets small pages).
void segment_note_huge_fault(Segment* segment, uint64_t nanoseconds);
// Tests only (nullptr otherwise): called as the clock starts on a new advised segment,
// before anything has written to it.
extern void (*g_huge_fault_timing_started)(Segment* segment);
extern uint32_t g_huge_pages_after_segments;

// Segment supply: a small global cache in front of the kernel. `huge_pages`: advise the
// segment as a huge-page candidate before its first use.
Segment* segment_acquire(Heap* heap, bool huge_pages = false);  // nullptr: no address space
void segment_release(Segment* segment);
// Finds `count` consecutive free slots; returns the first slot or 0 if none.
unsigned segment_find_slots(Segment* segment, unsigned count);
void segment_trim_cache();
void segment_lock_for_fork();
void segment_unlock_after_fork(bool in_child);

extern std::atomic<size_t> g_segments_in_use;
extern std::atomic<size_t> g_bytes_mapped;
extern std::atomic<size_t> g_bytes_committed;
extern std::atomic<size_t> g_bytes_committed_peak;  // sampled when pages are claimed

}  // namespace tally
