// The marker's engine: the pointer test, the sweep, the mark stacks, the workers and the
// passes that recover from a full stack. docs/design.md ("Marking", "Sweeping in address
// order") gives the measurements behind its shape: mark bytes set with plain stores, page
// views per slot, candidates prefetched and settled a few later, worker state on cache
// lines of its own, segments swept from the top down.
//
// Work flows through four places: the root list (ranges cut into chunks, taken by an
// atomic cursor); the sweep queue of segments holding pending blocks (reached, not yet
// scanned: the roots leave every small block they reach pending, and so does a sweep for
// blocks it has still to pass); each worker's own stack (last in, first out) for blocks a
// sweep has passed and for large blocks; and a small shared pool that a busy worker fills
// when it sees the pool empty, so idle workers get work. Invariant: when the mark ends no
// block is pending. The roots phase ends when every worker is idle with the roots and the
// pool exhausted; the sweep phase when every worker is idle with the queue empty too.
#include "mark/marker.h"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <atomic>

#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/registry.h"
#include "core/segment.h"
#include "mark/world.h"
#include "os/mapped_array.h"
#include "os/memory.h"
#include "os/process.h"
#include "safety/guard_pool.h"

namespace tally {
namespace {

struct Range {
  uintptr_t low;
  uintptr_t high;
};

constexpr uintptr_t kChunkBytes = 64 << 10;     // big blocks are scanned in pieces this big
constexpr uintptr_t kRootChunkBytes = 1 << 20;  // and roots too
constexpr int kMaxWorkers = 64;
constexpr size_t kPoolCapacity = 4096;
constexpr size_t kDonateThreshold = 64;

enum class Bit { kMarked, kIndirect };

// A word that points into a small block, waiting for its mark bit: the bit's word and the
// block are prefetched when it is found and settled a few candidates later, so the cache
// misses of many candidates overlap.
struct Candidate {
  std::atomic<uint8_t>* mark;
  uintptr_t start;
  uint32_t span;
  uint8_t no_scan;  // a MarkSlotView's: 0, kNoScanPage, or kScanUnlessInaccessible
};
constexpr unsigned kPendingCandidates = 8;  // measured: 4 .. 32 within noise, 8 best
constexpr unsigned kNotedSegments = 16;
// A structure whose blocks alternate between segments (a list built by two threads taking
// turns) would send the sweep back and forth, one block per sweep of a whole segment: a
// chain of 2.8 million blocks across two segments took 54 s instead of 50 ms. After this
// many sweeps of a segment, blocks reached in it go on the mark stack instead.
constexpr uint8_t kMaxSweepsPerSegment = 1;

// Each worker's state sits on cache lines of its own: it changes with every block.
struct alignas(128) Worker {
  Range* stack;
  size_t capacity;
  size_t top;
  uint64_t scanned;
  uint64_t marked;
  uint64_t segment_sweeps;
  Candidate pending[kPendingCandidates];
  unsigned pending_head;
  unsigned pending_count;
  // The sweep: while `sweeping`, a block reached with pointers to scan is left pending for
  // the sweep of its segment instead of pushed, unless it lies in the segment this worker
  // sweeps now at or above its finger (the sweep has passed it). Segments given pending
  // blocks are noted here (registry slots) and queued a batch at a time.
  bool sweeping;
  uintptr_t sweep_low;             // start of the segment being swept, 0 between segments
  MarkBooks* sweep_books;          // and its books
  uintptr_t page_low;              // start of the page being swept
  uintptr_t finger;                // the block being swept: pending blocks below it are still ahead
  uint64_t shared_slots;           // slots swept alongside another worker's sweep of their segment
  uint64_t passed_pending_blocks;  // found by look_for_passed_pending_blocks
  uint32_t noted[kNotedSegments];
  unsigned noted_count;
  std::atomic<int>* idle;  // the idle count of the phase this worker is in
};

MarkSettings g_settings;
uintptr_t g_heap_low = 0;
uintptr_t g_heap_span = 0;  // every block lies in [g_heap_low, g_heap_low + g_heap_span)
Worker g_workers[kMaxWorkers];
int g_active_workers = 1;
std::atomic<bool> g_overflowed{false};

MappedArray<Range> g_roots;
uint64_t g_root_bytes = 0;
uint64_t g_root_ranges = 0;
std::atomic<size_t> g_root_cursor{0};

// The pool's count and the idle count are read after every block a worker scans; they
// change only when work moves, so they get a line of their own, apart from the lock.
alignas(128) std::atomic<size_t> g_pool_count{0};
std::atomic<int> g_idle_roots{0};  // workers with nothing left to do in the roots phase
std::atomic<int> g_idle_sweep{0};  // and in the sweep phase
std::atomic<size_t> g_sweep_queue_count{0};
alignas(128) SpinLock g_pool_lock;
Range g_pool[kPoolCapacity];
// Segments with pending blocks (registry slots), highest address first: a structure built
// by allocating its blocks one after the other and pointing each new one at the ones
// before (a list grown at its head, a tree built from its leaves up) is followed by
// sweeping down from its newest block. Each segment is queued at most once (its
// sweep_queued flag); the queue is small and touched once per segment sweep.
alignas(128) SpinLock g_sweep_queue_lock;
MappedArray<uint32_t> g_sweep_queue;
// Segments a second worker swept slots of (registry slots), for the look for pending
// blocks after the sweeps; each listed once (its shared_sweep flag), under the queue's lock.
MappedArray<uint32_t> g_shared_segments;
std::atomic<size_t> g_shared_look_cursor{0};
// The segment each worker sweeps (registry slot + 1; 0 when none), where an idle worker
// looks for slots to sweep alongside it.
std::atomic<uint32_t> g_segment_swept_by[kMaxWorkers];
std::atomic<int> g_roots_done{0};  // workers past the roots phase (a barrier)

// --- Locating the block a word points into -------------------------------------------------

struct Target {
  uintptr_t start;
  size_t span;
  bool no_scan;
};

TALLY_INLINE bool claim_flag(std::atomic<uint8_t>& flags, uint8_t flag) {
  if (flags.load(std::memory_order_relaxed) & flag) return false;
  return (flags.fetch_or(flag, std::memory_order_relaxed) & flag) == 0;
}

uintptr_t guarded_span(const GuardSlot* slot) {
  uintptr_t end = (slot->block + slot->record.size() + 15) & ~uintptr_t{15};
  uintptr_t data_end = guard_pool_data_end(slot);  // a scan must never reach a guard page
  return (end < data_end ? end : data_end) - slot->block;
}

// The small block `word` points into, as a candidate (not yet checked against its mark
// bit). Blocks that are not live need no test here: their mark bits are set when the mark
// begins, so they look marked already.
// The books of every segment of the current mark, by registry slot (a lazily touched
// reservation like the registry's): one load tells whether a word lies in a segment and
// where its pages' views are. Entries set by a mark are cleared when the next begins.
MarkBooks** g_books_by_slot = nullptr;
MappedArray<uint32_t> g_books_set;  // registry slots set by the current mark

// MarkSlotView::no_scan: the page's blocks hold no pointers (an atomic class), or some of
// its memory is inaccessible and each block is checked before it is scanned.
constexpr uint8_t kNoScanPage = 1;
constexpr uint8_t kScanUnlessInaccessible = 2;

// Ranges of tally's segments and large blocks that the program made inaccessible
// (mprotect of a page-aligned block), from /proc/self/maps at the start of each mark, in
// address order. Reading them faulted the marker, and the check at exit crashed, as
// LeakSanitizer's does; such a block is now marked but not scanned.
MappedArray<MemoryRange> g_inaccessible;
// Words read at unaligned offsets of code mappings (marker_add_code_root), scanned as one
// root when the mark runs; their storage must hold still until then.
MappedArray<uintptr_t> g_code_words;

bool overlaps_inaccessible(uintptr_t start, size_t span) {
  size_t low = 0, high = g_inaccessible.count;  // the first range ending after `start`
  while (low < high) {
    size_t middle = (low + high) / 2;
    if (g_inaccessible[middle].high <= start)
      low = middle + 1;
    else
      high = middle;
  }
  return low < g_inaccessible.count && g_inaccessible[low].low < start + span;
}

TALLY_INLINE bool scannable(uintptr_t start, size_t span) {
  return TALLY_LIKELY(g_inaccessible.count == 0) || !overlaps_inaccessible(start, span);
}

TALLY_INLINE bool locate_in(const MarkBooks* books, uintptr_t word, bool interior,
                            Candidate* candidate) {
  const MarkSlotView& view = books->views[(word >> kSlotShift) & (kSlotsPerSegment - 1)];
  uintptr_t start = view.start;
  if (start == 0 || word < start) return false;
  uint64_t index = ((word - start) * view.reciprocal) >> kReciprocalShift;
  if (index >= view.capacity) return false;
  uintptr_t block = start + index * view.block_size;
  if (!interior && word != block) return false;
  candidate->mark = view.marks + index;
  candidate->start = block;
  candidate->span = view.block_size;
  candidate->no_scan = view.no_scan;
  return true;
}

TALLY_INLINE MarkBooks* books_of(uintptr_t word) {
  return g_books_by_slot[word >> kSegmentShift];
}

TALLY_INLINE bool locate_small(uintptr_t word, bool interior, Candidate* candidate) {
  if ((word >> kAddressBits) != 0) return false;
  MarkBooks* books = books_of(word);
  return books && locate_in(books, word, interior, candidate);
}

// If `word` points into a live large or guarded block not yet carrying `bit` (for
// kIndirect: and not marked), sets the bit and describes the block.
template <Bit bit>
TALLY_INLINE bool claim_other(uintptr_t entry, uintptr_t word, bool interior, Target* target) {
  std::atomic<uint8_t>* flags;
  uintptr_t block;
  size_t span;
  if ((entry & kRegistryKindMask) == kRegistryLarge) {
    LargeBlock* large = large_block_of_entry(entry);
    if (large->state.load(std::memory_order_relaxed) != LargeState::kLive) return false;
    block = large->base;
    span = large->usable_size;
    if (word >= block + span || (!interior && word != block)) return false;
    flags = &large->mark_flags;
  } else if (entry == kRegistryGuarded) {
    GuardSlot* guarded = guard_pool_slot_of(word);
    if (!guarded || guarded->state.load(std::memory_order_relaxed) != GuardSlotState::kLive)
      return false;
    block = guarded->block;
    span = guarded_span(guarded);
    // A 0-byte block (malloc(0)) has no byte to point into, only its start, which sits at
    // its guard page: a pointer equal to it still holds the block.
    if (word != block && (word < block || word >= block + span || !interior)) return false;
    flags = &guarded->mark_flags;
  } else {
    return false;
  }
  if (bit == Bit::kMarked) {
    if (!claim_flag(*flags, kMarkedFlag)) return false;
  } else {
    if (flags->load(std::memory_order_relaxed) & kMarkedFlag) return false;
    if (!claim_flag(*flags, kIndirectFlag)) return false;
  }
  bool no_scan = (flags->load(std::memory_order_relaxed) & kNoScanFlag) != 0;
  *target = Target{block, span, no_scan || !scannable(block, span)};
  return true;
}

// --- Mark stacks and the pool --------------------------------------------------------------

TALLY_INLINE void push(Worker& worker, uintptr_t low, uintptr_t high) {
  if (TALLY_UNLIKELY(worker.top == worker.capacity)) {
    g_overflowed.store(true, std::memory_order_relaxed);
    return;
  }
  worker.stack[worker.top++] = Range{low, high};
}

void donate(Worker& worker) {
  size_t give = worker.top / 2;
  LockGuard guard(g_pool_lock);
  size_t count = g_pool_count.load(std::memory_order_relaxed);
  if (give > kPoolCapacity - count) give = kPoolCapacity - count;
  memcpy(&g_pool[count], &worker.stack[worker.top - give], give * sizeof(Range));
  worker.top -= give;
  g_pool_count.store(count + give, std::memory_order_release);
}

bool take_from_pool(Worker& worker) {
  if (g_pool_count.load(std::memory_order_acquire) == 0) return false;
  LockGuard guard(g_pool_lock);
  size_t count = g_pool_count.load(std::memory_order_relaxed);
  if (count == 0) return false;
  size_t take = count > 16 ? 16 : count;
  if (take > worker.capacity - worker.top) take = worker.capacity - worker.top;
  memcpy(&worker.stack[worker.top], &g_pool[count - take], take * sizeof(Range));
  worker.top += take;
  g_pool_count.store(count - take, std::memory_order_release);
  return take > 0;
}

// --- The sweep queue ---------------------------------------------------------------------

void enqueue_segment(uint32_t slot) {
  LockGuard guard(g_sweep_queue_lock);
  // Room for every segment of the mark was made when it began, and each is queued once.
  g_sweep_queue.push(slot);
  std::push_heap(g_sweep_queue.begin(), g_sweep_queue.end());
  g_sweep_queue_count.store(g_sweep_queue.count, std::memory_order_release);
}

bool dequeue_segment(uint32_t* slot) {
  if (g_sweep_queue_count.load(std::memory_order_acquire) == 0) return false;
  LockGuard guard(g_sweep_queue_lock);
  if (g_sweep_queue.count == 0) return false;
  std::pop_heap(g_sweep_queue.begin(), g_sweep_queue.end());
  *slot = g_sweep_queue[--g_sweep_queue.count];
  g_sweep_queue_count.store(g_sweep_queue.count, std::memory_order_release);
  return true;
}

// Queues the noted segments that are not queued already. The fence orders the pending
// marks before the flag loads, and a sweep clears its segment's flag with a locked
// exchange before it reads the marks: so either the sweep sees the marks, or this sees the
// flag cleared and queues the segment again.
void flush_notes(Worker& worker) {
  if (worker.noted_count == 0) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (unsigned i = 0; i < worker.noted_count; ++i) {
    std::atomic<uint8_t>& queued = g_books_by_slot[worker.noted[i]]->sweep_queued;
    if (queued.load(std::memory_order_seq_cst) == 0 &&
        queued.exchange(1, std::memory_order_seq_cst) == 0)
      enqueue_segment(worker.noted[i]);
  }
  worker.noted_count = 0;
}

TALLY_INLINE void note_segment(Worker& worker, uint32_t slot) {
  for (unsigned i = worker.noted_count; i-- > 0;)
    if (worker.noted[i] == slot) return;
  if (worker.noted_count == kNotedSegments) flush_notes(worker);
  worker.noted[worker.noted_count++] = slot;
}

// Whether the slot holding `block`, in the segment `books` describes, is still to be
// taken by a sweep of it. A page spanning several slots is swept when its lowest slot is
// taken, so a block in one of its upper slots may be judged taken too early: it then goes
// on the stack, which is never wrong.
TALLY_INLINE bool slot_still_to_come(const MarkBooks* books, uintptr_t segment_low,
                                     uintptr_t block) {
  return static_cast<int32_t>((block - segment_low) >> kSlotShift) <=
         books->next_slot.load(std::memory_order_relaxed);
}

// For the sweep: leaves a newly reached block pending (its segment's sweep will scan it)
// unless the sweep of this worker's own segment has passed it already: it lies above the
// finger, or in a slot another worker sweeping the segment has taken.
TALLY_INLINE bool leave_pending(Worker& worker, const Candidate& candidate) {
  if (candidate.start - worker.sweep_low < worker.finger - worker.sweep_low) {
    if (candidate.start < worker.page_low &&
        !slot_still_to_come(worker.sweep_books, worker.sweep_low, candidate.start))
      return false;
    candidate.mark->store(kMarkPending, std::memory_order_relaxed);
    return true;
  }
  uintptr_t segment = candidate.start & ~(kSegmentSize - 1);
  if (segment == worker.sweep_low) return false;
  uint32_t slot = static_cast<uint32_t>(segment >> kSegmentShift);
  if (g_books_by_slot[slot]->sweeps.load(std::memory_order_relaxed) >= kMaxSweepsPerSegment)
    return false;
  candidate.mark->store(kMarkPending, std::memory_order_relaxed);
  note_segment(worker, slot);
  return true;
}

template <Bit bit>
TALLY_INLINE void settle(Worker& worker, const Candidate& candidate) {
  uint8_t mark = candidate.mark->load(std::memory_order_relaxed);
  if (bit == Bit::kMarked) {
    if (mark == kMarkReached || mark == kMarkPending) return;
    ++worker.marked;
    if (!candidate.no_scan && worker.sweeping && leave_pending(worker, candidate)) return;
  } else {
    if (mark != kMarkNone) return;
    ++worker.marked;
  }
  candidate.mark->store(bit == Bit::kMarked ? kMarkReached : kMarkIndirect,
                        std::memory_order_relaxed);
  if (candidate.no_scan == 0 ||
      (candidate.no_scan == kScanUnlessInaccessible && scannable(candidate.start, candidate.span)))
    push(worker, candidate.start, candidate.start + candidate.span);
}

template <Bit bit>
TALLY_INLINE void offer(Worker& worker, const Candidate& candidate) {
  __builtin_prefetch(candidate.mark, 1);
  __builtin_prefetch(reinterpret_cast<const void*>(candidate.start));
  if (worker.pending_count == kPendingCandidates) {
    Candidate oldest = worker.pending[worker.pending_head];
    worker.pending[worker.pending_head] = candidate;
    worker.pending_head = (worker.pending_head + 1) % kPendingCandidates;
    settle<bit>(worker, oldest);
    return;
  }
  worker.pending[(worker.pending_head + worker.pending_count++) % kPendingCandidates] = candidate;
}

template <Bit bit>
void settle_pending(Worker& worker) {
  while (worker.pending_count > 0) {
    Candidate oldest = worker.pending[worker.pending_head];
    worker.pending_head = (worker.pending_head + 1) % kPendingCandidates;
    --worker.pending_count;
    settle<bit>(worker, oldest);
  }
}

// Follows a word in the heap's range (every such word is below 2^47, as the table needs)
// to the block it points into, if any. `immediate`: settle a small block at once (the
// sweep: a block below the finger must be left pending before the finger passes it)
// rather than a few candidates later.
template <Bit bit, bool immediate>
TALLY_INLINE void follow(Worker& worker, uintptr_t word, bool interior) {
  if (MarkBooks* books = books_of(word)) {
    Candidate candidate;
    if (!locate_in(books, word, interior, &candidate)) return;
    if (immediate)
      settle<bit>(worker, candidate);
    else
      offer<bit>(worker, candidate);
    return;
  }
  uintptr_t entry = registry_lookup(word);
  Target target;
  if (!claim_other<bit>(entry, word, interior, &target)) return;
  ++worker.marked;
  if (!target.no_scan) push(worker, target.start, target.start + target.span);
}

// A block that does not start at a multiple of 8: a guarded block aligned only to its size
// (guard_alignment), such as 13 bytes holding a pointer and a name. Its pointers lie at
// multiples of 8 from its start, not from address 0.
template <Bit bit>
TALLY_NOINLINE void scan_unaligned(Worker& worker, uintptr_t low, uintptr_t high, bool interior) {
  const uintptr_t heap_low = g_heap_low, heap_span = g_heap_span;
  for (uintptr_t at = low; high >= sizeof(uintptr_t) && at <= high - sizeof(uintptr_t);
       at += sizeof(uintptr_t)) {
    uintptr_t word;
    memcpy(&word, reinterpret_cast<const void*>(at), sizeof word);
    if (word - heap_low >= heap_span) continue;
    follow<bit, false>(worker, word, interior);
  }
  worker.scanned += high > low ? high - low : 0;
}

// Scans [low, high) for pointers, a word at a time from `low` (roots are given aligned).
template <Bit bit>
TALLY_INLINE void scan(Worker& worker, uintptr_t low, uintptr_t high, bool interior) {
  if (TALLY_UNLIKELY(low & 7)) return scan_unaligned<bit>(worker, low, high, interior);
  if (high < low + sizeof(uintptr_t)) return;
  const uintptr_t heap_low = g_heap_low, heap_span = g_heap_span;
  for (uintptr_t at = low; at + sizeof(uintptr_t) <= high; at += sizeof(uintptr_t)) {
    uintptr_t word = *reinterpret_cast<const uintptr_t*>(at);
    if (TALLY_LIKELY(word - heap_low >= heap_span)) continue;
    follow<bit, false>(worker, word, interior);
  }
  worker.scanned += high - low;
}

// Empties the worker's stack, scanning what it pops (big ranges a chunk at a time), and
// settles the candidates still pending when it runs dry (which may push more).
template <Bit bit>
void drain(Worker& worker, bool share) {
  bool interior = g_settings.interior_pointers;
  for (;;) {
    if (worker.top == 0) {
      if (worker.pending_count == 0) break;
      settle_pending<bit>(worker);
      continue;
    }
    Range range = worker.stack[--worker.top];
    if (range.high - range.low > kChunkBytes) {
      worker.stack[worker.top++] = Range{range.low + kChunkBytes, range.high};
      range.high = range.low + kChunkBytes;
    }
    scan<bit>(worker, range.low, range.high, interior);
    if (share && worker.top > kDonateThreshold &&
        g_pool_count.load(std::memory_order_relaxed) == 0 &&
        worker.idle->load(std::memory_order_relaxed))
      donate(worker);
  }
}

// --- Visiting the heap -----------------------------------------------------------------------

// The live blocks of bitmap word `w` of `page`.
uint64_t live_mask(const Page* page, uint32_t w) {
  uint64_t not_live = page->free_bits[w].load(std::memory_order_relaxed) |
                      page->remote_bits[w].load(std::memory_order_relaxed) |
                      page->quarantine_bits[w].load(std::memory_order_relaxed);
  uint64_t valid = w + 1 < page->bitmap_words() || page->capacity % 64 == 0
                       ? ~uint64_t{0}
                       : (uint64_t{1} << (page->capacity % 64)) - 1;
  return ~not_live & valid;
}

template <typename Visit>
void for_each_segment(Visit&& visit) {
  struct Context {
    Visit* visit;
  } context{&visit};
  heap_for_each_locked(
      [](Heap* heap, void* raw) {
        Context* context = static_cast<Context*>(raw);
        for (Segment* segment = heap->segments; segment; segment = segment->next)
          (*context->visit)(segment);
      },
      &context);
}

// The pages of a segment that hold blocks: (slot, page).
template <typename Visit>
void for_each_page(Segment* segment, Visit&& visit) {
  for (unsigned slot = kHeaderSlots; slot < kSlotsPerSegment; ++slot) {
    Page* page = &segment->pages[slot];
    if (page->head_distance != 0 || page->start == 0 || page->status == PageStatus::kUnused ||
        page->status == PageStatus::kEmpty)
      continue;
    visit(slot, page);
  }
}

// The mark bytes of the page at `slot`, if the last marker_begin laid them out for the page
// as it is (a page made since, or remade for another size, has none yet), else null.
std::atomic<uint8_t>* marks_of(const MarkBooks* books, unsigned slot, const Page* page) {
  if (!books) return nullptr;
  const MarkSlotView& view = books->views[slot];
  return view.start == page->start && view.capacity == page->capacity ? view.marks : nullptr;
}

uint8_t mark_of(const MarkBooks* books, unsigned slot, const Page* page, uint32_t index) {
  std::atomic<uint8_t>* marks = marks_of(books, slot, page);
  if (!marks || index >= page->capacity) return kMarkNone;
  return marks[index].load(std::memory_order_relaxed);
}

MarkBlock describe_small(Segment* segment, unsigned slot, Page* page, uint32_t index) {
  MarkBooks* books = segment->mark_books.load(std::memory_order_relaxed);
  uint64_t mask = uint64_t{1} << (index & 63);
  uint8_t mark = mark_of(books, slot, page, index);
  MarkBlock block;
  block.start = page->start + uintptr_t{index} * page->block_size;
  block.span = page->block_size;
  block.record = page->records ? record_of(page, index) : nullptr;
  block.requested_size = block.record ? block.record->size() : block.span;
  block.marked = mark == kMarkReached;
  block.indirect = mark == kMarkIndirect;
  block.ignored =
      books && (books->ignored[slot][index >> 6].load(std::memory_order_relaxed) & mask);
  block.no_scan = is_no_scan_class(page->size_class) || !scannable(block.start, block.span);
  return block;
}

MarkBlock describe_flags(uintptr_t start, size_t span, size_t requested, const BlockRecord* record,
                         uint8_t flags) {
  MarkBlock block;
  block.start = start;
  block.span = span;
  block.requested_size = requested;
  block.record = record;
  block.marked = flags & kMarkedFlag;
  block.indirect = flags & kIndirectFlag;
  block.ignored = flags & kIgnoredFlag;
  block.no_scan = (flags & kNoScanFlag) || !scannable(start, span);
  return block;
}

// Visits every live block.
template <typename Visit>
void for_each_live_block(Visit&& visit) {
  for_each_segment([&](Segment* segment) {
    for_each_page(segment, [&](unsigned slot, Page* page) {
      uint32_t words = page->bitmap_words();
      for (uint32_t w = 0; w < words; ++w) {
        for (uint64_t live = live_mask(page, w); live; live &= live - 1) {
          uint32_t index = w * 64 + static_cast<uint32_t>(__builtin_ctzll(live));
          visit(describe_small(segment, slot, page, index));
        }
      }
    });
  });
  struct Context {
    Visit* visit;
  } context{&visit};
  large_for_each_live(
      [](LargeBlock* large, void* raw) {
        (*static_cast<Context*>(raw)->visit)(
            describe_flags(large->base, large->usable_size,
                           g_keep_block_records ? large->requested_size : large->usable_size,
                           g_keep_block_records ? &large->record : nullptr,
                           large->mark_flags.load(std::memory_order_relaxed)));
      },
      &context);
  guard_pool_for_each_live(
      [](GuardSlot* slot, void* raw) {
        (*static_cast<Context*>(raw)->visit)(
            describe_flags(slot->block, guarded_span(slot), slot->record.size(), &slot->record,
                           slot->mark_flags.load(std::memory_order_relaxed)));
      },
      &context);
}

// Visits the live blocks not reached by the mark so far (mark byte other than
// kMarkReached: not reached, or reached only from leaked blocks), eight mark bytes at a
// time; valid during a mark (after marker_begin).
template <typename Visit>
void for_each_unreached_block(Visit&& visit) {
  constexpr uint64_t kAllReached = 0x0101010101010101ull * kMarkReached;
  for_each_segment([&](Segment* segment) {
    MarkBooks* books = segment->mark_books.load(std::memory_order_relaxed);
    if (!books) return;
    for_each_page(segment, [&](unsigned slot, Page* page) {
      std::atomic<uint8_t>* page_marks = marks_of(books, slot, page);
      if (!page_marks) return;
      const uint8_t* marks = reinterpret_cast<const uint8_t*>(page_marks);
      uint32_t capacity = page->capacity;
      for (uint32_t i = 0; i < capacity; i += 8) {
        uint32_t end = i + 8 < capacity ? i + 8 : capacity;
        if (end == i + 8) {
          uint64_t eight;
          memcpy(&eight, marks + i, sizeof eight);
          if (eight == kAllReached) continue;
        }
        for (uint32_t j = i; j < end; ++j)
          if (marks[j] != kMarkReached) visit(describe_small(segment, slot, page, j));
      }
    });
  });
  struct Context {
    Visit* visit;
  } context{&visit};
  large_for_each_live(
      [](LargeBlock* large, void* raw) {
        uint8_t flags = large->mark_flags.load(std::memory_order_relaxed);
        if (flags & kMarkedFlag) return;
        (*static_cast<Context*>(raw)->visit)(
            describe_flags(large->base, large->usable_size,
                           g_keep_block_records ? large->requested_size : large->usable_size,
                           g_keep_block_records ? &large->record : nullptr, flags));
      },
      &context);
  guard_pool_for_each_live(
      [](GuardSlot* slot, void* raw) {
        uint8_t flags = slot->mark_flags.load(std::memory_order_relaxed);
        if (flags & kMarkedFlag) return;
        (*static_cast<Context*>(raw)->visit)(describe_flags(
            slot->block, guarded_span(slot), slot->record.size(), &slot->record, flags));
      },
      &context);
}

// Sets `bit` on the block that starts at `start` (a block from for_each_live_block).
template <Bit bit>
void set_bit_of(const MarkBlock& block) {
  uintptr_t entry = registry_lookup(block.start);
  if (entry == kRegistrySegment) {
    Candidate candidate;
    if (!locate_small(block.start, false, &candidate)) return;
    candidate.mark->store(bit == Bit::kMarked ? kMarkReached : kMarkIndirect,
                          std::memory_order_relaxed);
    return;
  }
  Target target;
  claim_other<bit>(entry, block.start, false, &target);
}

// After an overflow: scans every block that carries the bit (and is scannable) again,
// until a pass ends with nothing dropped.
template <Bit bit>
void recover_from_overflow(Worker& worker, MarkStatistics* statistics) {
  while (g_overflowed.exchange(false, std::memory_order_acq_rel)) {
    if (statistics) ++statistics->overflow_passes;
    for_each_live_block([&](const MarkBlock& block) {
      bool carries = bit == Bit::kMarked ? block.marked : block.indirect && !block.marked;
      if (!carries || block.no_scan) return;
      push(worker, block.start, block.start + block.span);
      drain<bit>(worker, false);
    });
  }
}

// --- The sweep ---------------------------------------------------------------------------

// The bytes of `eight` equal to `value`, as their high bits (exact: no borrow crosses from
// one byte into the next).
TALLY_INLINE uint64_t bytes_equal(uint64_t eight, uint8_t value) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7full;
  uint64_t differs = eight ^ (0x0101010101010101ull * value);
  return ~(((differs & kLow7) + kLow7) | differs | kLow7);
}

TALLY_INLINE uint64_t pending_bytes(uint64_t eight) {
  return bytes_equal(eight, kMarkPending);
}

// How many bytes a bytes_equal mask has (a multiply sums its eight bits; no popcnt call
// on machines built for baseline x86-64).
TALLY_INLINE uint32_t count_bytes(uint64_t mask) {
  return static_cast<uint32_t>(((mask >> 7) * 0x0101010101010101ull) >> 56);
}

constexpr uint32_t kNoPendingBlock = ~0u;

// The highest index below `index` whose mark is pending, or kNoPendingBlock: eight marks
// a load while none is. The sweep calls it only past a block that is not pending, so in a
// run of pending blocks (a structure allocated in order) it reads a byte at a time and
// never loads eight marks right after its own byte store to one of them: such a load
// waits for the store to reach the cache, and once every eight blocks that was a sixth of
// a dense sweep's time.
TALLY_INLINE uint32_t pending_below(const std::atomic<uint8_t>* marks, uint32_t index) {
  while (index >= 8) {
    uint64_t eight;
    memcpy(&eight, reinterpret_cast<const uint8_t*>(marks) + index - 8, sizeof eight);
    if (uint64_t pending = pending_bytes(eight))
      return index - 8 + ((63 - static_cast<unsigned>(__builtin_clzll(pending))) >> 3);
    index -= 8;
  }
  while (index-- > 0)
    if (marks[index].load(std::memory_order_relaxed) == kMarkPending) return index;
  return kNoPendingBlock;
}

// A word of a swept block that points outside the block's page: kept out of line.
TALLY_NOINLINE void sweep_settle_elsewhere(Worker& worker, uintptr_t word, bool interior) {
  follow<Bit::kMarked, true>(worker, word, interior);
}

constexpr bool every_block_size_is_a_multiple_of_16() {
  for (const SizeClassInfo& size_class : g_size_classes)
    if (size_class.block_size % 16 != 0) return false;
  return true;
}
static_assert(every_block_size_is_a_multiple_of_16(), "the sweep reads two words a step");

// The page being swept, in locals: the mark stores are byte stores, which may alias
// anything, so fields read through the view were read again for every word (11
// instructions a word where 4 do).
struct SweptPage {
  uintptr_t heap_low;
  uintptr_t heap_span;
  uintptr_t start;
  uintptr_t span;
  uint64_t reciprocal;
  std::atomic<uint8_t>* marks;
  uint32_t block_size;
  bool interior;
  uintptr_t segment_low;   // the segment being swept
  const MarkBooks* books;  // and its books
};

// A first test of two aligned words at once against the heap's range: false when neither
// can lie in it; true may still be neither (the exact test follows). With SSE2 (every
// x86-64) it compares the high halves of word - heap_low, which are zero or small for a
// word in the range, in one vector compare: 4 instructions for two words where the scalar
// test takes 8 and a branch.
#if defined(__SSE2__)
struct HeapWordFilter {
  __m128i low;    // heap_low - 2^63: the subtraction also flips the high halves' sign bits
  __m128i limit;  // high halves below this (compared as signed after flipping the sign)
};

inline HeapWordFilter make_heap_word_filter(uintptr_t heap_low, uintptr_t heap_span) {
  // The heap lies below 2^47, so the high half of heap_span - 1 plus one does not overflow.
  uint32_t high_limit = heap_span ? static_cast<uint32_t>((heap_span - 1) >> 32) + 1 : 0;
  return HeapWordFilter{_mm_set1_epi64x(static_cast<long long>(heap_low - (uintptr_t{1} << 63))),
                        _mm_set1_epi32(static_cast<int>(high_limit ^ 0x80000000u))};
}

TALLY_INLINE bool may_hold_heap_words(const uintptr_t* pair, const HeapWordFilter& filter) {
  // word - (heap_low - 2^63) is word - heap_low with its top bit flipped: adding 2^63
  // carries into nothing. So one subtraction gives the signed view the compare wants.
  __m128i offsets =
      _mm_sub_epi64(_mm_load_si128(reinterpret_cast<const __m128i*>(pair)), filter.low);
  __m128i below = _mm_cmpgt_epi32(filter.limit, offsets);
  return (_mm_movemask_ps(_mm_castsi128_ps(below)) & 0b1010) != 0;  // the high halves' lanes
}
#else
struct HeapWordFilter {
  uintptr_t low;
  uintptr_t span;
};

inline HeapWordFilter make_heap_word_filter(uintptr_t heap_low, uintptr_t heap_span) {
  return HeapWordFilter{heap_low, heap_span};
}

TALLY_INLINE bool may_hold_heap_words(const uintptr_t* pair, const HeapWordFilter& filter) {
  return (pair[0] - filter.low < filter.span) | (pair[1] - filter.low < filter.span);
}
#endif

// The common case of a word pointing into another page of the segment being swept: at a
// block of a page to scan, below `block`, so the sweep is still to come to it. Leaves it
// pending, as settle would, without the call (and the spills around it) and the table
// lookup: a list whose every step leads to another page (interleaved allocation) took 164
// instructions a block with them, 125 without (1 GiB on one thread: 130 ms, now 89 ms).
// False: anything else, which takes the general path.
TALLY_INLINE bool sweep_settle_below(const SweptPage& page, uintptr_t word, uintptr_t block,
                                     uint64_t& marked) {
  Candidate candidate;
  if (!locate_in(page.books, word, page.interior, &candidate)) return false;
  if (candidate.no_scan || candidate.start >= block) return false;
  if (!slot_still_to_come(page.books, page.segment_low, candidate.start)) return false;
  uint8_t mark = candidate.mark->load(std::memory_order_relaxed);
  if (mark == kMarkReached || mark == kMarkPending) return true;
  ++marked;
  candidate.mark->store(kMarkPending, std::memory_order_relaxed);
  return true;
}

// Settles a heap word found in `block`. A word pointing into the same page (a linked
// structure allocated in order has most of them) is settled from the page at hand,
// without the table lookups of the general test. Returns whether it pushed a block (the
// worker's finger is written only then and before the out-of-line path, its only readers).
template <uint32_t kBlockSize>
TALLY_INLINE bool sweep_settle(Worker& worker, const SweptPage& page, uintptr_t word,
                               uintptr_t block, uint64_t& marked) {
  const uint32_t block_size = kBlockSize ? kBlockSize : page.block_size;
  if (word - page.start >= page.span) {
    if (word - page.segment_low < kSegmentSize && sweep_settle_below(page, word, block, marked))
      return false;
    worker.finger = block;
    sweep_settle_elsewhere(worker, word, page.interior);
    return true;  // it may have pushed
  }
  uint64_t index = kBlockSize ? (word - page.start) / kBlockSize
                              : ((word - page.start) * page.reciprocal) >> kReciprocalShift;
  uintptr_t target = page.start + index * block_size;
  if (!page.interior && word != target) return false;
  uint8_t mark = page.marks[index].load(std::memory_order_relaxed);
  if (mark == kMarkReached || mark == kMarkPending) return false;
  ++marked;
  if (target < block) {  // the sweep is still to come to it
    page.marks[index].store(kMarkPending, std::memory_order_relaxed);
    return false;
  }
  page.marks[index].store(kMarkReached, std::memory_order_relaxed);
  push(worker, target, target + block_size);
  return true;
}

// How far below the block being swept its sweep prefetches: the hardware's stream
// prefetcher alone left the first load of each block a third of the sweep's time on this
// Intel Xeon VM. 1 GiB of 48-byte list nodes, medians of 3-5 interleaved runs: one worker
// 186 -> 132 ms (interleaved lists) and 141 -> 123 ms (grouped); two workers 107 -> 90 ms
// and 73 -> 63 ms. 512 bytes ahead did little, 2-4 KiB best (a page ahead also starts the
// next page's table walk early), 8 KiB no better. (An earlier try on an AMD EPYC, with the
// sweep as it was then, measured no gain.)
constexpr uintptr_t kSweepPrefetchBytes = 4096;

// Scans the pending blocks of one page from its last block down, each before the blocks
// below it, so a chain of blocks that point at lower ones is read in one pass in address
// order. Marks are read a byte at a time while blocks are pending and eight at a time past
// those that are not (pending_below). kBlockSize is the page's block size when it is one
// of the small ones the sweep is compiled for (0 otherwise): a block's words are then read
// without a loop. Sweeping 1 GiB of 48-byte blocks on one thread took 97 ms before these
// two, 93 ms with the byte-wise run alone, 92 ms with the sizes alone, and 76 ms with both.
template <uint32_t kBlockSize>
TALLY_NOINLINE void sweep_page(Worker& worker, const MarkSlotView& view, bool interior,
                               bool share) {
  const SweptPage page{g_heap_low,       g_heap_span,
                       view.start,       uintptr_t{view.capacity} * view.block_size,
                       view.reciprocal,  view.marks,
                       view.block_size,  interior,
                       worker.sweep_low, g_books_by_slot[worker.sweep_low >> kSegmentShift]};
  const uint32_t block_size = kBlockSize ? kBlockSize : page.block_size;
  const HeapWordFilter filter = make_heap_word_filter(page.heap_low, page.heap_span);
  uint64_t marked = 0, swept = 0;
  worker.page_low = page.start;
  for (uint32_t index = view.capacity; index-- > 0;) {
    if (page.marks[index].load(std::memory_order_relaxed) != kMarkPending) {
      index = pending_below(page.marks, index);
      if (index == kNoPendingBlock) break;
    }
    uintptr_t block = page.start + uintptr_t{index} * block_size;
    __builtin_prefetch(reinterpret_cast<const void*>(block - kSweepPrefetchBytes));
    page.marks[index].store(kMarkReached, std::memory_order_relaxed);
    ++swept;
    bool pushed = false;
    const uintptr_t* words = reinterpret_cast<const uintptr_t*>(block);
    // Two words a step, one branch for both when neither is in the heap's range.
#pragma GCC unroll 8
    for (uint32_t pair = 0; pair < block_size / 16; ++pair) {
      const uintptr_t* at = words + 2 * pair;
      if (TALLY_LIKELY(!may_hold_heap_words(at, filter))) continue;
      uintptr_t first = at[0], second = at[1];
      if (first - page.heap_low < page.heap_span)
        pushed |= sweep_settle<kBlockSize>(worker, page, first, block, marked);
      if (second - page.heap_low < page.heap_span)
        pushed |= sweep_settle<kBlockSize>(worker, page, second, block, marked);
    }
    if (pushed && worker.top) {
      worker.finger = block;
      drain<Bit::kMarked>(worker, share);
    }
  }
  worker.marked += marked;
  worker.scanned += swept * block_size;
}

// The sweep of a page, compiled for each block size up to 128 bytes (the sizes most
// objects have) and once for the rest.
void sweep_page_of_any_size(Worker& worker, const MarkSlotView& view, bool interior, bool share) {
  switch (view.block_size) {
    case 16:
      return sweep_page<16>(worker, view, interior, share);
    case 32:
      return sweep_page<32>(worker, view, interior, share);
    case 48:
      return sweep_page<48>(worker, view, interior, share);
    case 64:
      return sweep_page<64>(worker, view, interior, share);
    case 80:
      return sweep_page<80>(worker, view, interior, share);
    case 96:
      return sweep_page<96>(worker, view, interior, share);
    case 112:
      return sweep_page<112>(worker, view, interior, share);
    case 128:
      return sweep_page<128>(worker, view, interior, share);
    default:
      return sweep_page<0>(worker, view, interior, share);
  }
}

void note_shared_sweep(uint32_t slot, MarkBooks* books) {
  if (books->shared_sweep.load(std::memory_order_relaxed) ||
      books->shared_sweep.exchange(1, std::memory_order_acq_rel))
    return;
  LockGuard guard(g_sweep_queue_lock);
  g_shared_segments.push(slot);  // room was made when the mark began
}

bool sweep_alongside(Worker& worker, uint32_t slot, bool share);

// Sweeps the page whose view is at `page_slot` of the segment the worker sweeps. A page
// spanning several slots has its view in each; it is swept once, at its lowest slot (the
// last a sweep takes).
// Whether the page whose view is at `page_slot` is one to sweep there: it has blocks that
// may hold pointers, and `page_slot` is its lowest slot.
bool page_to_sweep_at(const MarkBooks* books, int32_t page_slot) {
  const MarkSlotView& view = books->views[page_slot];
  return view.start != 0 && !view.no_scan &&
         !(page_slot > static_cast<int32_t>(kHeaderSlots) &&
           books->views[page_slot - 1].start == view.start);
}

// Returns whether there was a page to sweep.
bool sweep_slot(Worker& worker, const MarkBooks* books, int32_t page_slot, bool interior,
                bool share) {
  if (!page_to_sweep_at(books, page_slot)) return false;
  sweep_page_of_any_size(worker, books->views[page_slot], interior, share);
  return true;
}

void begin_segment_sweep(Worker& worker, uint32_t slot) {
  worker.sweep_low = uintptr_t{slot} << kSegmentShift;
  worker.sweep_books = g_books_by_slot[slot];
}

void end_segment_sweep(Worker& worker) {
  MarkBooks* books = worker.sweep_books;
  books->sweepers.fetch_sub(1, std::memory_order_seq_cst);
  while (books->sweepers.load(std::memory_order_seq_cst) != 0) sched_yield();
  worker.sweep_low = worker.finger = worker.page_low = 0;
  worker.sweep_books = nullptr;
  flush_notes(worker);
}

// The segment's slots are taken from the top down through its next_slot, so that idle
// workers can take some of them (sweep_alongside) while this worker sweeps the others.
// A segment queued again while a sweep of it runs (a block left pending in it just as the
// sweep began) joins that sweep instead of starting over: two sweeps of one segment at
// once would each take the other's passed slots for ones still to come. It is then shared,
// and a block left pending above the joined sweep is found after the sweeps.
void sweep_segment(Worker& worker, uint32_t slot, bool share) {
  MarkBooks* books = g_books_by_slot[slot];
  ++worker.segment_sweeps;
  books->sweep_queued.exchange(0, std::memory_order_seq_cst);  // before reading any mark
  if (books->sweepers.fetch_add(1, std::memory_order_seq_cst) != 0) {
    books->sweepers.fetch_sub(1, std::memory_order_seq_cst);
    note_shared_sweep(slot, books);
    sweep_alongside(worker, slot, share);
    return;
  }
  books->sweeps.store(books->sweeps.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  books->next_slot.store(static_cast<int32_t>(kSlotsPerSegment) - 1, std::memory_order_seq_cst);
  bool interior = g_settings.interior_pointers;
  begin_segment_sweep(worker, slot);
  std::atomic<uint32_t>& published = g_segment_swept_by[&worker - g_workers];
  published.store(slot + 1, std::memory_order_release);
  for (;;) {
    int32_t page_slot = books->next_slot.fetch_sub(1, std::memory_order_acq_rel);
    if (page_slot < static_cast<int32_t>(kHeaderSlots)) break;
    sweep_slot(worker, books, page_slot, interior, share);
  }
  published.store(0, std::memory_order_relaxed);
  end_segment_sweep(worker);
}

// Sweeping alongside another worker pays only where the slot's blocks are all reached
// already: a wavefront as wide as the slot, such as lists whose nodes were allocated in
// turn. Below a structure found block by block (one list allocated in order), the next
// slot holds nothing reached yet; a second worker taking it would pass its blocks before
// the chain arrives and hand each of them to the first worker's stack. Blocks still
// unreached (leaked, or reached later from above) are allowed up to a sixteenth of those
// that are unreached or pending (blocks that are not live count as reached from the start,
// so a sixteenth of the page's capacity would take a page of a few live blocks for ready).
// A slot with nothing to sweep is ready to a worker sweeping alongside already (taking it
// costs nothing) but no reason to start.
bool slot_is_ready(const MarkBooks* books, int32_t page_slot, bool started) {
  if (page_slot < static_cast<int32_t>(kHeaderSlots)) return false;
  if (!page_to_sweep_at(books, page_slot)) return started;
  if (g_settings.sweep_unready_slots) return true;  // tests: every slot is ready
  const MarkSlotView& view = books->views[page_slot];
  const uint8_t* marks = reinterpret_cast<const uint8_t*>(view.marks);
  // Unreached must stay within a sixteenth of the capacity for 15 x unreached <= pending.
  uint32_t unreached = 0, pending = 0, bound = view.capacity / 16u;
  uint32_t index = 0;
  for (; index + 8 <= view.capacity; index += 8) {
    uint64_t eight;
    memcpy(&eight, marks + index, sizeof eight);
    unreached += count_bytes(bytes_equal(eight, kMarkNone));
    pending += count_bytes(bytes_equal(eight, kMarkPending));
    if (unreached > bound) return false;
  }
  for (; index < view.capacity; ++index) {
    unreached += marks[index] == kMarkNone;
    pending += marks[index] == kMarkPending;
  }
  return 15 * unreached <= pending;
}

// Takes ready slots of the segment `slot` that another worker sweeps, one at a time from
// its top down, until one is not ready or none is left. A block this worker leaves
// pending in a slot the other worker takes at the same moment may be passed by it: the
// segment is noted as shared first, and such blocks are found after the sweeps
// (look_for_passed_pending_blocks). True if it swept any slot.
bool sweep_alongside(Worker& worker, uint32_t slot, bool share) {
  MarkBooks* books = g_books_by_slot[slot];
  bool interior = g_settings.interior_pointers;
  bool took_any = false;
  unsigned waits = 0;
  // Counted before taking a slot, so that the sweeper, having taken the last, waits for it.
  books->sweepers.fetch_add(1, std::memory_order_seq_cst);
  for (;;) {
    int32_t page_slot = books->next_slot.load(std::memory_order_acquire);
    if (page_slot < static_cast<int32_t>(kHeaderSlots)) break;
    if (!slot_is_ready(books, page_slot, took_any)) {
      // Having taken a slot, this worker waits for the segment's end before it leaves
      // (end_segment_sweep); the next slot may become ready before then.
      if (!took_any) break;
      if (++waits > 64)
        sched_yield();  // the sweeper may be waiting for this processor
      else
        __builtin_ia32_pause();
      continue;
    }
    if (!books->next_slot.compare_exchange_strong(page_slot, page_slot - 1,
                                                  std::memory_order_acq_rel))
      continue;
    if (!took_any) {
      took_any = true;
      note_shared_sweep(slot, books);
      begin_segment_sweep(worker, slot);
    }
    worker.shared_slots += sweep_slot(worker, books, page_slot, interior, share);
  }
  if (took_any) {
    end_segment_sweep(worker);
  } else {
    books->sweepers.fetch_sub(1, std::memory_order_seq_cst);
  }
  return took_any;
}

// A segment another worker sweeps whose next slot is ready, or UINT32_MAX.
uint32_t segment_to_sweep_alongside(const Worker& worker) {
  for (int i = 0; i < g_active_workers; ++i) {
    if (&g_workers[i] == &worker) continue;
    uint32_t tagged = g_segment_swept_by[i].load(std::memory_order_acquire);
    if (tagged == 0) continue;
    const MarkBooks* books = g_books_by_slot[tagged - 1];
    if (slot_is_ready(books, books->next_slot.load(std::memory_order_acquire), false))
      return tagged - 1;
  }
  return UINT32_MAX;
}

bool sweep_alongside_another(Worker& worker, bool share) {
  uint32_t slot = segment_to_sweep_alongside(worker);
  return slot != UINT32_MAX && sweep_alongside(worker, slot, share);
}

// Whether any of a page's marks is pending: almost never after the sweeps, so the marks
// are read without a branch until the end (the look over a 1 GiB heap's marks took 3.1 ms
// a worker with pending_below, which stops at each group of eight).
bool any_pending(const std::atomic<uint8_t>* marks, uint32_t capacity) {
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(marks);
  uint64_t pending = 0;
  uint32_t index = 0;
  for (; index + 8 <= capacity; index += 8) {
    uint64_t eight;
    memcpy(&eight, bytes + index, sizeof eight);
    pending |= pending_bytes(eight);
  }
  for (; index < capacity; ++index) pending |= bytes[index] == kMarkPending;
  return pending != 0;
}

// After the sweeps: a block left pending in a shared segment at the moment the other
// worker's sweep passed it is still pending. Each worker takes shared segments from a
// cursor and scans such blocks (and what they reach, through its stack: no sweep runs any
// more, so nothing is left pending again).
void look_for_passed_pending_blocks(Worker& worker) {
  for (;;) {
    size_t next = g_shared_look_cursor.fetch_add(1, std::memory_order_relaxed);
    if (next >= g_shared_segments.count) return;
    const MarkBooks* books = g_books_by_slot[g_shared_segments[next]];
    for (int32_t page_slot = kHeaderSlots; page_slot < static_cast<int32_t>(kSlotsPerSegment);
         ++page_slot) {
      const MarkSlotView& view = books->views[page_slot];
      if (!page_to_sweep_at(books, page_slot) || !any_pending(view.marks, view.capacity)) continue;
      for (uint32_t index = view.capacity;
           (index = pending_below(view.marks, index)) != kNoPendingBlock;) {
        view.marks[index].store(kMarkReached, std::memory_order_relaxed);
        ++worker.passed_pending_blocks;
        uintptr_t block = view.start + uintptr_t{index} * view.block_size;
        push(worker, block, block + view.block_size);
        drain<Bit::kMarked>(worker, false);
      }
    }
  }
}

// --- Workers ---------------------------------------------------------------------------------

// Waits until the pool or (`sweeps`) the sweep queue or another worker's sweep has work, or
// every worker of the phase is idle: then false.
bool wait_for_work(Worker& worker, bool sweeps) {
  worker.idle->fetch_add(1, std::memory_order_acq_rel);
  for (unsigned spins = 0;; ++spins) {
    if (g_pool_count.load(std::memory_order_acquire) > 0 ||
        (sweeps && (g_sweep_queue_count.load(std::memory_order_acquire) > 0 ||
                    segment_to_sweep_alongside(worker) != UINT32_MAX))) {
      worker.idle->fetch_sub(1, std::memory_order_acq_rel);
      return true;
    }
    if (worker.idle->load(std::memory_order_acquire) == g_active_workers) return false;
    if (spins > 64) sched_yield();
  }
}

// Two phases. The roots: every block they reach is left pending and its segment queued.
// Then, after every worker is done with the roots, the sweeps: segments taken from the
// queue, highest first; blocks a sweep cannot leave pending go on the worker's stack. A
// worker with nothing else to do sweeps ready slots of a segment another worker sweeps.
void run_worker(int index) {
  Worker& worker = g_workers[index];
  bool share = g_active_workers > 1;
  worker.sweeping = true;
  worker.idle = &g_idle_roots;
  for (;;) {
    drain<Bit::kMarked>(worker, share);
    size_t root = g_root_cursor.fetch_add(1, std::memory_order_acq_rel);
    if (root < g_roots.count) {
      scan<Bit::kMarked>(worker, g_roots[root].low, g_roots[root].high, true);
      continue;
    }
    if (take_from_pool(worker)) continue;
    if (!wait_for_work(worker, false)) break;
  }
  flush_notes(worker);
  g_roots_done.fetch_add(1, std::memory_order_acq_rel);
  while (g_roots_done.load(std::memory_order_acquire) < g_active_workers) sched_yield();

  worker.idle = &g_idle_sweep;
  for (;;) {
    drain<Bit::kMarked>(worker, share);
    flush_notes(worker);  // what the drain left pending must be queued before going idle
    uint32_t slot;
    if (dequeue_segment(&slot)) {
      sweep_segment(worker, slot, share);
      continue;
    }
    if (take_from_pool(worker)) continue;
    if (share && sweep_alongside_another(worker, share)) continue;
    if (!wait_for_work(worker, true)) break;
  }
  worker.sweeping = false;
  look_for_passed_pending_blocks(worker);
}

// The per-segment half of marker_begin: resets the segment's views and lays out its marks,
// every block not live starting out marked. Segments are independent, so the workers share
// them (lay_out_claimed_segments): over a 1 GiB heap this was 30 ms of the pause, on one
// thread, and it grows with the heap while more processors could take it.
void lay_out_marks(Segment* segment, MarkBooks* books) {
  for (MarkSlotView& view : books->views) view.start = 0;
  books->sweep_queued.store(0, std::memory_order_relaxed);
  books->sweeps.store(0, std::memory_order_relaxed);
  books->shared_sweep.store(0, std::memory_order_relaxed);
  books->next_slot.store(static_cast<int32_t>(kSlotsPerSegment) - 1, std::memory_order_relaxed);
  books->sweepers.store(0, std::memory_order_relaxed);
  size_t marks_used = 0;
  // The marks this mark lays out, backed in one call before they are written: the first
  // mark (the check at exit) would otherwise fault them in a page at a time, which was
  // two fifths of the pause at exit over a 1 GiB heap on this virtual machine.
  size_t marks_needed = 0;
  for_each_page(segment,
                [&](unsigned, Page* page) { marks_needed += (page->capacity + 7u) & ~7u; });
  os_populate(books->marks, marks_needed);
  for_each_page(segment, [&](unsigned slot, Page* page) {
    // Eight-byte aligned runs: the walks read the marks eight at a time.
    std::atomic<uint8_t>* page_marks = books->marks + marks_used;
    marks_used += (page->capacity + 7u) & ~7u;
    MarkSlotView view{page->start,
                      page->reciprocal,
                      page_marks,
                      page->block_size,
                      static_cast<uint16_t>(page->capacity),
                      is_no_scan_class(page->size_class) ? kNoScanPage : uint8_t{0}};
    for (unsigned covered = slot; covered < slot + page->slot_count; ++covered)
      books->views[covered] = view;
    // Blocks that are not live start out marked, so the pointer test need not look at
    // the free, remote and quarantine bits again.
    uint32_t words = page->bitmap_words();
    uint8_t* marks = reinterpret_cast<uint8_t*>(page_marks);
    for (uint32_t w = 0; w < words; ++w) {
      uint64_t live = live_mask(page, w);
      uint32_t count = page->capacity - w * 64 < 64 ? page->capacity - w * 64 : 64;
      uint64_t all = count == 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1;
      if (live == all || live == 0) {
        memset(marks + w * 64, live ? kMarkNone : kMarkReached, count);
        continue;
      }
      for (uint32_t i = 0; i < count; ++i)
        marks[w * 64 + i] = (live >> i) & 1 ? kMarkNone : kMarkReached;
    }
  });
}

std::atomic<size_t> g_layout_cursor{0};

// Lays out the marks of the segments in g_books_set, taking them one at a time.
void lay_out_claimed_segments() {
  for (;;) {
    size_t i = g_layout_cursor.fetch_add(1, std::memory_order_relaxed);
    if (i >= g_books_set.count) return;
    uint32_t slot = g_books_set[i];
    lay_out_marks(reinterpret_cast<Segment*>(uintptr_t{slot} << kSegmentShift),
                  g_books_by_slot[slot]);
  }
}

// What the workers do when woken: the mark, or the layout before it.
enum class HelperJob : uint8_t { kMark, kLayOutMarks };
HelperJob g_helper_job = HelperJob::kMark;  // published by the generation's increment

void run_job(HelperJob job, int index) {
  if (job == HelperJob::kLayOutMarks)
    lay_out_claimed_segments();
  else
    run_worker(index);
}

// Helper threads: started before the world stops, parked on a futex between marks.
struct Helpers {
  int count = 0;
  int tids[kMaxWorkers];
  std::atomic<uint32_t> generation{0};
  std::atomic<int> running{0};
  std::atomic<int> ready{0};
  // Each helper's static TLS and descriptor: glibc's bookkeeping of the thread (its dynamic
  // TLS vector, allocated with malloc) is reachable only from there.
  MemoryRange descriptors[kMaxWorkers];
};
Helpers g_helpers;

long futex_call(void* word, int op, uint32_t value) {
  return syscall(SYS_futex, word, op, value, nullptr, nullptr, 0);
}

void* helper_main(void* argument) {
  int index = static_cast<int>(reinterpret_cast<uintptr_t>(argument));
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);  // the program's signals are not ours to take
  g_helpers.tids[index - 1] = static_cast<int>(syscall(SYS_gettid));
  StoppedThread self;
  world_describe_self(&self, nullptr);
  g_helpers.descriptors[index - 1] = self.ranges[StoppedThread::kRanges - 1];
  g_helpers.ready.fetch_add(1, std::memory_order_acq_rel);
  uint32_t seen = g_helpers.generation.load(std::memory_order_acquire);
  for (;;) {
    while (g_helpers.generation.load(std::memory_order_acquire) == seen)
      futex_call(&g_helpers.generation, FUTEX_WAIT_PRIVATE, seen);
    seen = g_helpers.generation.load(std::memory_order_acquire);
    if (index < g_active_workers) run_job(g_helper_job, index);
    if (g_helpers.running.fetch_sub(1, std::memory_order_acq_rel) == 1)
      futex_call(&g_helpers.running, FUTEX_WAKE_PRIVATE, 1);
  }
  return nullptr;
}

// Runs `job` on the calling thread (worker 0) and on every active helper; returns when all
// are done.
void run_with_helpers(HelperJob job) {
  int workers = g_active_workers;
  if (workers > 1) {
    g_helper_job = job;
    g_helpers.running.store(g_helpers.count, std::memory_order_release);
    g_helpers.generation.fetch_add(1, std::memory_order_acq_rel);
    futex_call(&g_helpers.generation, FUTEX_WAKE_PRIVATE, INT32_MAX);
  }
  run_job(job, 0);
  if (workers > 1) {
    int running;
    while ((running = g_helpers.running.load(std::memory_order_acquire)) != 0)
      futex_call(&g_helpers.running, FUTEX_WAIT_PRIVATE, static_cast<uint32_t>(running));
  }
}

bool ensure_stack(Worker& worker, size_t entries) {
  if (worker.stack && worker.capacity == entries) return true;
  if (worker.stack) os_unmap(worker.stack, worker.capacity * sizeof(Range));
  worker.stack = static_cast<Range*>(os_map(entries * sizeof(Range)));
  worker.capacity = worker.stack ? entries : 0;
  return worker.stack != nullptr;
}

bool prepare_books_table() {
  if (!g_books_by_slot) {
    g_books_by_slot = static_cast<MarkBooks**>(os_map(kRegistryEntries * sizeof(MarkBooks*)));
    if (!g_books_by_slot) return false;
  }
  for (size_t i = 0; i < g_books_set.count; ++i) g_books_by_slot[g_books_set[i]] = nullptr;
  g_books_set.clear();
  return true;
}

bool note_books(uintptr_t segment, MarkBooks* books) {
  uint32_t slot = static_cast<uint32_t>(segment >> kSegmentShift);
  if (!g_books_set.push(slot)) return false;
  g_books_by_slot[slot] = books;
  return true;
}

}  // namespace

void marker_prepare_helpers(int workers) {
  if (workers > kMaxWorkers) workers = kMaxWorkers;
  while (g_helpers.count + 1 < workers) {
    int index = g_helpers.count + 1;
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 256 << 10);
    int failed = pthread_create(&thread, &attributes, helper_main,
                                reinterpret_cast<void*>(static_cast<uintptr_t>(index)));
    pthread_attr_destroy(&attributes);
    if (failed) break;
    ++g_helpers.count;
  }
  while (g_helpers.ready.load(std::memory_order_acquire) < g_helpers.count) sched_yield();
}

int marker_helper_tids(int* tids, int capacity) {
  int count = g_helpers.count < capacity ? g_helpers.count : capacity;
  for (int i = 0; i < count; ++i) tids[i] = g_helpers.tids[i];
  return count;
}

void marker_add_helper_roots() {
  for (int i = 0; i < g_helpers.count; ++i)
    marker_add_root(g_helpers.descriptors[i].low, g_helpers.descriptors[i].high);
}

void marker_after_fork_in_child() {
  g_helpers.count = 0;
  g_helpers.ready.store(0, std::memory_order_relaxed);
  g_helpers.running.store(0, std::memory_order_relaxed);
  g_pool_lock.reset();
}

bool marker_note_inaccessible() {
  g_inaccessible.clear();
  bool ok = true;
  process_for_each_mapping(
      [](const MappingLine& line, void* raw) {
        if (line.readable) return true;
        // Tally's own inaccessible memory is never scanned: guard pages, quarantined blocks,
        // the tail guards after large blocks. Listed all the same (a live block's range
        // meets none of it); only memory outside tally's is left out.
        if (registry_lookup(line.start) == 0) return true;
        if (!g_inaccessible.push(MemoryRange{line.start, line.end}))
          *static_cast<bool*>(raw) = false;
        return true;
      },
      &ok);
  return ok;
}

bool marker_range_scannable(uintptr_t start, size_t span) {
  return scannable(start, span);
}

bool marker_begin(const MarkSettings& settings) {
  g_settings = settings;
  int workers = settings.workers < 1 ? 1 : settings.workers;
  if (workers > g_helpers.count + 1) workers = g_helpers.count + 1;
  g_active_workers = workers;
  for (int i = 0; i < workers; ++i) {
    if (!ensure_stack(g_workers[i], settings.stack_entries)) return false;
    g_workers[i].top = 0;
    g_workers[i].scanned = g_workers[i].marked = g_workers[i].segment_sweeps = 0;
    g_workers[i].pending_head = g_workers[i].pending_count = 0;
    g_workers[i].sweeping = false;
    g_workers[i].sweep_low = g_workers[i].finger = g_workers[i].page_low = 0;
    g_workers[i].sweep_books = nullptr;
    g_workers[i].shared_slots = g_workers[i].passed_pending_blocks = 0;
    g_segment_swept_by[i].store(0, std::memory_order_relaxed);
    g_workers[i].noted_count = 0;
    g_workers[i].idle = &g_idle_roots;
  }
  g_roots.clear();
  g_code_words.clear();
  g_root_bytes = g_root_ranges = 0;
  g_root_cursor.store(0, std::memory_order_relaxed);
  g_pool_count.store(0, std::memory_order_relaxed);
  g_idle_roots.store(0, std::memory_order_relaxed);
  g_idle_sweep.store(0, std::memory_order_relaxed);
  g_roots_done.store(0, std::memory_order_relaxed);
  g_sweep_queue.clear();
  g_shared_segments.clear();
  g_shared_look_cursor.store(0, std::memory_order_relaxed);
  g_sweep_queue_count.store(0, std::memory_order_relaxed);
  g_overflowed.store(false, std::memory_order_relaxed);

  uintptr_t low = UINTPTR_MAX, high = 0;
  bool ok = prepare_books_table();
  if (!ok) return false;
  for_each_segment([&](Segment* segment) {
    MarkBooks* books = segment_mark_books(segment);
    if (!books || !note_books(reinterpret_cast<uintptr_t>(segment), books)) {
      ok = false;
      return;
    }
    uintptr_t start = reinterpret_cast<uintptr_t>(segment);
    if (start < low) low = start;
    if (start + kSegmentSize > high) high = start + kSegmentSize;
  });
  if (ok) {
    g_layout_cursor.store(0, std::memory_order_relaxed);
    run_with_helpers(HelperJob::kLayOutMarks);
  }
  if (ok) ok = marker_note_inaccessible();
  // Pages with inaccessible memory check each block before it is scanned, and are never
  // swept (a block of theirs is never left pending for the sweep).
  for (const MemoryRange& range : g_inaccessible) {
    if (registry_lookup(range.low) != kRegistrySegment) continue;
    MarkBooks* books = g_books_by_slot[range.low >> kSegmentShift];
    if (!books) continue;
    for (MarkSlotView& view : books->views) {
      uintptr_t end = view.start + uintptr_t{view.capacity} * view.block_size;
      if (view.start != 0 && view.no_scan == 0 && view.start < range.high && range.low < end)
        view.no_scan = kScanUnlessInaccessible;
    }
  }
  struct Bounds {
    uintptr_t* low;
    uintptr_t* high;
  } bounds{&low, &high};
  large_for_each_live(
      [](LargeBlock* large, void* raw) {
        Bounds* b = static_cast<Bounds*>(raw);
        large->mark_flags.fetch_and(static_cast<uint8_t>(~(kMarkedFlag | kIndirectFlag)),
                                    std::memory_order_relaxed);
        if (large->base < *b->low) *b->low = large->base;
        if (large->base + large->usable_size > *b->high)
          *b->high = large->base + large->usable_size;
      },
      &bounds);
  guard_pool_for_each_live(
      [](GuardSlot* slot, void* raw) {
        Bounds* b = static_cast<Bounds*>(raw);
        slot->mark_flags.fetch_and(static_cast<uint8_t>(~(kMarkedFlag | kIndirectFlag)),
                                   std::memory_order_relaxed);
        if (slot->block < *b->low) *b->low = slot->block;
        if (slot->block + guarded_span(slot) > *b->high)
          *b->high = slot->block + guarded_span(slot);
      },
      &bounds);
  // Room in the sweep queue for every segment, so queueing one never needs memory mid-mark.
  for (size_t i = 0; ok && i < g_books_set.count; ++i)
    ok = g_sweep_queue.push(0) && g_shared_segments.push(0);
  g_sweep_queue.clear();
  g_shared_segments.clear();
  if (low >= high) low = high = 0;
  g_heap_low = low;
  g_heap_span = high - low;
  return ok;
}

namespace {

// A root range scanned a word at a time from `low` as given.
// The end of the live block that holds `address` (anywhere inside it), as far as a scan may
// read: false if no live block holds it (a free or quarantined block, a guard page, books).
bool live_block_end(uintptr_t address, uintptr_t* end) {
  uintptr_t entry = registry_lookup(address);
  if (entry == kRegistrySegment) {
    Segment* segment = segment_of(address);
    Page* page = page_of(segment, address);
    if (page->start == 0 || page->status == PageStatus::kUnused || page->block_size == 0 ||
        address < page->start)
      return false;
    uint64_t index = ((address - page->start) * page->reciprocal) >> kReciprocalShift;
    if (index >= page->capacity || !page_is_live(page, static_cast<uint32_t>(index))) return false;
    *end = page->start + (index + 1) * page->block_size;
    return true;
  }
  if ((entry & kRegistryKindMask) == kRegistryLarge) {
    LargeBlock* large = large_block_of_entry(entry);
    if (large->state.load(std::memory_order_acquire) != LargeState::kLive ||
        address < large->base || address >= large->base + large->usable_size)
      return false;
    *end = large->base + large->usable_size;
    return true;
  }
  if (entry == kRegistryGuarded) {
    GuardSlot* slot = guard_pool_slot_of(address);
    if (!slot || slot->state.load(std::memory_order_acquire) != GuardSlotState::kLive ||
        address < slot->block || address >= slot->block + guarded_span(slot))
      return false;
    *end = slot->block + guarded_span(slot);
    return true;
  }
  return false;
}

void add_root_range(uintptr_t low, uintptr_t high) {
  if (high <= low || !scannable(low, high - low)) return;
  ++g_root_ranges;
  g_root_bytes += high - low;
  for (uintptr_t at = low; at < high; at += kRootChunkBytes) {
    uintptr_t end = high - at > kRootChunkBytes ? at + kRootChunkBytes : high;
    if (!g_roots.push(Range{at, end})) {
      // Out of memory for the root list: scan it now rather than lose it.
      scan<Bit::kMarked>(g_workers[0], at, end, true);
    }
  }
}

}  // namespace

bool marker_clip_root(uintptr_t* low_inout, uintptr_t* high_inout) {
  uintptr_t low = (*low_inout + 7) & ~uintptr_t{7}, high = *high_inout;
  if (high <= low) return false;
  if (registry_lookup(low) != 0) {
    // A root in tally's own memory: the stack of a coroutine or of a thread whose stack the
    // program allocated (the stack pointer's mapping is then tally's), or a root the
    // program registered inside a block. Only the live block it starts in is the program's;
    // past it lie other blocks, free slots, and guard pages that fault.
    uintptr_t block_end = 0;
    if (!live_block_end(low, &block_end)) return false;
    if (high > block_end) high = block_end;
  } else {
    // A range of other memory ends where tally's begins (the kernel shows neighbouring
    // anonymous mappings as one). tally's mappings are whole registry slots.
    for (uintptr_t slot = (low + kSegmentSize) & ~(kSegmentSize - 1); slot < high;
         slot += kSegmentSize) {
      if (registry_lookup(slot) != 0) {
        high = slot;
        break;
      }
    }
  }
  *low_inout = low;
  *high_inout = high;
  return high > low;
}

void marker_add_root(uintptr_t low, uintptr_t high) {
  if (marker_clip_root(&low, &high)) add_root_range(low, high);
}

void marker_add_ignored_blocks() {
  // Only pages that had a block ignored, and large and guarded blocks, can hold one.
  for_each_segment([](Segment* segment) {
    MarkBooks* books = segment->mark_books.load(std::memory_order_relaxed);
    if (!books) return;
    for_each_page(segment, [&](unsigned slot, Page* page) {
      if (!page->has_ignored) return;
      for (uint32_t w = 0; w < page->bitmap_words(); ++w) {
        uint64_t ignored =
            books->ignored[slot][w].load(std::memory_order_relaxed) & live_mask(page, w);
        for (; ignored; ignored &= ignored - 1) {
          MarkBlock block = describe_small(
              segment, slot, page, w * 64 + static_cast<uint32_t>(__builtin_ctzll(ignored)));
          if (block.marked) continue;
          set_bit_of<Bit::kMarked>(block);
          ++g_workers[0].marked;
          if (!block.no_scan) add_root_range(block.start, block.start + block.span);
        }
      }
    });
  });
  auto add = [](const MarkBlock& block) {
    if (!block.ignored || block.marked) return;
    set_bit_of<Bit::kMarked>(block);
    ++g_workers[0].marked;
    if (!block.no_scan) add_root_range(block.start, block.start + block.span);
  };
  large_for_each_live(
      [](LargeBlock* large, void* raw) {
        uint8_t flags = large->mark_flags.load(std::memory_order_relaxed);
        if (!(flags & kIgnoredFlag)) return;
        (*static_cast<decltype(add)*>(raw))(
            describe_flags(large->base, large->usable_size,
                           g_keep_block_records ? large->requested_size : large->usable_size,
                           g_keep_block_records ? &large->record : nullptr, flags));
      },
      &add);
  guard_pool_for_each_live(
      [](GuardSlot* slot, void* raw) {
        uint8_t flags = slot->mark_flags.load(std::memory_order_relaxed);
        if (!(flags & kIgnoredFlag)) return;
        (*static_cast<decltype(add)*>(raw))(describe_flags(
            slot->block, guarded_span(slot), slot->record.size(), &slot->record, flags));
      },
      &add);
}

void marker_add_code_root(uintptr_t low, uintptr_t high) {
  // Not counted in the root bytes: the range is an ordinary root too, and the words kept
  // are counted when they are added as one.
  if (!marker_clip_root(&low, &high) || high - low < sizeof(uintptr_t)) return;
  for (uintptr_t at = low; at + sizeof(uintptr_t) <= high; ++at) {
    if ((at & 7) == 0) continue;  // the aligned words are an ordinary root's
    uintptr_t word;
    memcpy(&word, reinterpret_cast<const void*>(at), sizeof word);
    // Only candidates are kept: most of the code's byte windows are not addresses at all.
    if (word - g_heap_low >= g_heap_span || registry_lookup(word) == 0) continue;
    if (!g_code_words.push(word)) return;
  }
}

void marker_run(MarkStatistics* statistics) {
  uint64_t started = monotonic_nanoseconds();
  int workers = g_active_workers;
  if (g_code_words.count != 0) {
    uintptr_t words = reinterpret_cast<uintptr_t>(g_code_words.items);
    add_root_range(words, words + g_code_words.count * sizeof(uintptr_t));
  }
  run_with_helpers(HelperJob::kMark);
  MarkStatistics totals{};
  recover_from_overflow<Bit::kMarked>(g_workers[0], &totals);
  totals.root_ranges = g_root_ranges;
  totals.root_bytes = g_root_bytes;
  for (int i = 0; i < workers; ++i) {
    totals.bytes_scanned += g_workers[i].scanned;
    totals.blocks_marked += g_workers[i].marked;
    totals.segment_sweeps += g_workers[i].segment_sweeps;
    totals.shared_slots += g_workers[i].shared_slots;
    totals.passed_pending_blocks += g_workers[i].passed_pending_blocks;
  }
  totals.workers = workers;
  totals.nanoseconds = monotonic_nanoseconds() - started;
  if (statistics) *statistics = totals;
}

void marker_flood_indirect() {
  Worker& worker = g_workers[0];
  for_each_unreached_block([&](const MarkBlock& block) {
    if (block.marked || block.no_scan) return;
    scan<Bit::kIndirect>(worker, block.start, block.start + block.span,
                         g_settings.interior_pointers);
    drain<Bit::kIndirect>(worker, false);
  });
  recover_from_overflow<Bit::kIndirect>(worker, nullptr);
}

void marker_mark_from(const MarkBlock& block) {
  Worker& worker = g_workers[0];
  set_bit_of<Bit::kMarked>(block);
  if (!block.no_scan) push(worker, block.start, block.start + block.span);
  drain<Bit::kMarked>(worker, false);
  recover_from_overflow<Bit::kMarked>(worker, nullptr);
}

void marker_for_each_unmarked(void (*visit)(const MarkBlock& block, void* context), void* context) {
  for_each_unreached_block([&](const MarkBlock& block) {
    if (block.marked) return;
    // The block may have been marked by a visit before this one (marker_mark_from).
    MarkBlock now;
    if (marker_find_block(block.start, &now) && now.marked) return;
    visit(block, context);
  });
}

void marker_for_each_live(void (*visit)(const MarkBlock& block, void* context), void* context) {
  for_each_live_block([&](const MarkBlock& block) { visit(block, context); });
}

bool marker_find_block(uintptr_t address, MarkBlock* out) {
  uintptr_t entry = registry_lookup(address);
  if (entry == kRegistrySegment) {
    Segment* segment = segment_of(address);
    Page* page = page_of(segment, address);
    uint32_t index = block_index_of(page, address);
    if (index == UINT32_MAX || !page_is_live(page, index)) return false;
    *out = describe_small(segment, static_cast<unsigned>(page - segment->pages), page, index);
    return true;
  }
  if ((entry & kRegistryKindMask) == kRegistryLarge) {
    LargeBlock* large = large_block_of_entry(entry);
    if (large->base != address || large->state.load(std::memory_order_acquire) != LargeState::kLive)
      return false;
    *out = describe_flags(large->base, large->usable_size,
                          g_keep_block_records ? large->requested_size : large->usable_size,
                          g_keep_block_records ? &large->record : nullptr,
                          large->mark_flags.load(std::memory_order_relaxed));
    return true;
  }
  if (entry == kRegistryGuarded) {
    GuardSlot* slot = guard_pool_slot_of(address);
    if (!slot || slot->block != address ||
        slot->state.load(std::memory_order_acquire) != GuardSlotState::kLive)
      return false;
    *out = describe_flags(slot->block, guarded_span(slot), slot->record.size(), &slot->record,
                          slot->mark_flags.load(std::memory_order_relaxed));
    return true;
  }
  return false;
}

bool marker_set_ignored(uintptr_t address) {
  uintptr_t entry = registry_lookup(address);
  if (entry == kRegistrySegment) {
    Segment* segment = segment_of(address);
    Page* page = page_of(segment, address);
    uint32_t index = block_index_of(page, address);
    if (index == UINT32_MAX || !page_is_live(page, index)) return false;
    MarkBooks* books = segment_mark_books(segment);
    if (!books) return false;
    unsigned slot = static_cast<unsigned>(page - segment->pages);
    books->ignored[slot][index >> 6].fetch_or(uint64_t{1} << (index & 63),
                                              std::memory_order_relaxed);
    __atomic_store_n(&page->has_ignored, 1, __ATOMIC_RELEASE);
    return true;
  }
  if ((entry & kRegistryKindMask) == kRegistryLarge) {
    LargeBlock* large = large_block_of_entry(entry);
    if (large->base != address || large->state.load(std::memory_order_acquire) != LargeState::kLive)
      return false;
    large->mark_flags.fetch_or(kIgnoredFlag, std::memory_order_relaxed);
    return true;
  }
  if (entry == kRegistryGuarded) {
    GuardSlot* slot = guard_pool_slot_of(address);
    if (!slot || slot->block != address ||
        slot->state.load(std::memory_order_acquire) != GuardSlotState::kLive)
      return false;
    slot->mark_flags.fetch_or(kIgnoredFlag, std::memory_order_relaxed);
    return true;
  }
  return false;
}

void marker_set_no_scan(uintptr_t address) {
  uintptr_t entry = registry_lookup(address);
  if ((entry & kRegistryKindMask) == kRegistryLarge) {
    large_block_of_entry(entry)->mark_flags.fetch_or(kNoScanFlag, std::memory_order_relaxed);
  } else if (entry == kRegistryGuarded) {
    if (GuardSlot* slot = guard_pool_slot_of(address))
      slot->mark_flags.fetch_or(kNoScanFlag, std::memory_order_relaxed);
  }
}

}  // namespace tally
