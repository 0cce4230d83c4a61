// Thread heaps. Each thread allocates from a heap of its own, with no lock and no atomic
// read-modify-write: allocation takes the lowest free bit of the current page's bitmap.
// A free by the owning thread tests the bit (a set bit is a double free) and sets it back
// with a plain instruction; a free by any other thread goes to the page's remote bitmap
// and the page is pushed on the owner's incoming list, from which the owner harvests on its
// next slow path. Allocation hands out no block whose remote bit is set (see "Racing
// frees" in heap.cc for why that, and no locked instruction, keeps every free exact). Heaps are
// never unmapped: a thread that exits abandons its heap, and the next thread to start adopts it
// with all its pages, so nothing an exited thread held is stranded.
#pragma once

#include <atomic>

#include "core/config.h"
#include "core/segment.h"
#include "core/size_classes.h"

namespace tally {

// Calls counted per heap for the statistics report (plain increments, summed at report time).
enum ApiCall : unsigned {
  // The commonest first: their counters share the heap's first cache line.
  kCallMalloc,
  kCallFree,
  kCallNew,
  kCallDelete,
  kCallCalloc,
  kCallRealloc,
  kCallReallocArray,
  kCallPosixMemalign,
  kCallAlignedAlloc,
  kCallMemalign,
  kCallValloc,
  kCallPvalloc,
  kCallUsableSize,
  kCallNewArray,
  kCallNewAligned,
  kCallNewArrayAligned,
  kCallDeleteArray,
  kCallDeleteAligned,
  kCallDeleteArrayAligned,
  kCallMallocAtomic,
  kApiCallCount
};

struct ClaimDrops;
struct QuarantineBatch;
struct StackMemo;

struct Heap {
  // Checked modes (safe, debug): every call takes the checked path. First, so the fast
  // paths test it in a line they load anyway, with the counters of the commonest calls
  // (malloc, free, new, delete come first in ApiCall's order).
  bool checked;
  uint64_t api_calls[kApiCallCount];
  uint32_t guard_countdown;    // allocations until the next sampled guarded one (0: not drawn)
  uint32_t guard_tokens;       // debug mode: guarded allocations this thread may still make
  uint32_t guard_refilled_at;  // monotonic_milliseconds() of the last refill
  QuarantineBatch* quarantine_batch;
  // Batches of this heap's frees that left the global FIFO, handed back for this thread to
  // release (its blocks then go back with local frees); pushed by any thread, taken whole.
  std::atomic<QuarantineBatch*> returned_batches;
  // This heap's batches in the global FIFO, oldest first, and their bytes (under the
  // quarantine's lock): the quarantine bounds each heap's share (safety/quarantine.cc).
  QuarantineBatch* quarantine_own_oldest;
  QuarantineBatch* quarantine_own_newest;
  size_t quarantine_own_bytes;
  StackMemo* stack_memo;  // checked modes: recent stack walks (report/stack_recorder.cc)
  // The claim drops of the releases this thread is in the middle of, innermost first (a
  // signal handler's release nests in the thread's): a forked child drops them, since the
  // threads that would have are gone (api/checked_allocation.cc, ReleaseUnderWay).
  ClaimDrops* claim_drops_under_way;
  // By heap class (size_classes.h): ordinary pages, then pages of blocks without pointers.
  Page* current[kHeapClassCount];  // never null: g_empty_page when the heap has no page yet
  // Pages of the class with free blocks, besides the current, taken from the front; a page
  // joins at the back (heap.cc, queue_append, says why), so the last one is kept too.
  Page* queue[kHeapClassCount];
  Page* queue_last[kHeapClassCount];
  std::atomic<Page*> incoming;  // pages other threads freed into
  // Retired pages kept committed for reuse, newest first, one list per size class they
  // last held (the base class), within kEmptyPageBudget bytes; pages older than
  // kPurgeDelay are decommitted. By class, so that a page goes back to the layout it had
  // (heap_fresh_page says why).
  Page* empty_pages[kClassCount];
  size_t empty_bytes;
  uint32_t last_purge;
  Segment* segments;
  uint32_t segment_count;  // in `segments`
  // Bytes in the blocks of this heap's pages that are not free (live, quarantined, or freed
  // by another thread and not yet collected), as of the owner's last walk of its pages, and
  // the bytes of pages claimed and blocks quarantined since (heap_note_activity).
  size_t live_estimate;
  size_t activity_since_estimate;
  uint32_t thread_number;
  uint32_t abandoned_at;  // monotonic_milliseconds() when its thread left
  bool abandoned;
  bool being_purged;  // abandoned, and a live thread is purging its empty pages: not adoptable
  // In a forked child: a heap whose owner or purger did not come along, so its books may be
  // frozen halfway through an update. Never adopted or purged (see heap_unlock_after_fork).
  bool orphaned;
  Heap* next_all;
  Heap* next_abandoned;
};

extern __thread Heap* t_heap;
// Set once the thread's exit has given its heap back: a free after that (a later TLS
// destructor, the C library's own clean-up) must not take a heap that nothing would return.
extern __thread bool t_heap_given_back;
extern Page g_empty_page;
// Set by the runtime: reports a double free found while harvesting remote frees.
extern void (*g_report_late_double_free)(uintptr_t block, size_t size);
// Set by the runtime: runs when a thread gives up its heap (flushes its quarantine).
extern void (*g_before_heap_release)(Heap* heap);

// What a free found out about its block.
enum class FreeOutcome : uint8_t { kFreed, kDoubleFree, kNotAllocated };

// The live heap, for bounds that follow it (safe mode's quarantine is a share of it): the sum
// of every heap's live_estimate, kept when g_track_live_estimate is set. Each owner walks its
// own pages once its activity since the last walk passes an eighth of its estimate (at
// least 1 MiB), so the walks cost a fixed small share of the work however big the heap.
extern bool g_track_live_estimate;
extern std::atomic<size_t> g_live_estimate;
void heap_note_activity(Heap* heap, size_t bytes);

void* heap_allocate_slow(Heap* heap, unsigned size_class);
// heap_allocate's way out when the block it would take is also in the remote map.
void* heap_allocate_after_racing_free(Heap* heap, unsigned size_class);
void heap_page_freed_slow(Heap* heap, Page* page);
FreeOutcome heap_free_remote(Page* page, uint32_t index);
// The block is leaving the program's hands: the leak check forgets it was to be ignored.
void page_forget_ignored(Page* page, uint32_t index);
FreeOutcome heap_resolve_racing_free(Page* page, uint32_t word, uint64_t bit);

Heap* heap_acquire_for_thread();  // the calling thread's heap, created or adopted
void heap_release_for_thread();   // thread exit: harvest, trim, abandon
// Decommits the cached empty pages that expired, this heap's and (at most every
// kPurgeDelay) abandoned heaps'; rate-limited, cheap to call from any slow path.
void heap_purge_expired(Heap* heap);
void heap_trim(Heap* heap);  // decommit every cached empty page now
void heap_lock_for_fork();
void heap_unlock_after_fork(bool in_child);

// Visits every heap (live or abandoned) under the heap-list lock. The visitor may read
// other threads' counters racily; it must not allocate.
void heap_for_each(void (*visit)(Heap* heap, void* context), void* context);
// The same, for a caller that holds the heap-list lock already (heap_lock_for_fork).
void heap_for_each_locked(void (*visit)(Heap* heap, void* context), void* context);

// Sets `bit` in a word only the owning thread writes (a free word), without a locked
// instruction: on x86-64 one `or` to memory (no other thread writes the word, so nothing
// is lost between its load and its store). Elsewhere it stays a locked fetch_or: the
// argument of "Racing frees" (heap.cc) leans on x86's ordering of loads. Like the C
// library's, tally's malloc and free are not async-signal-safe: a handler that frees the
// same block between the caller's test and this `or` counts it free twice (a `bts`, which
// tests and sets in one instruction, cost small_churn 8%; an allocation in a handler that
// interrupts an allocation was never safe either).
TALLY_INLINE void set_owner_bit(std::atomic<uint64_t>& word, uint64_t bit) {
#if defined(__x86_64__)
  __asm__ volatile("orq %1, %0" : "+m"(word) : "r"(bit));
#else
  word.fetch_or(bit, std::memory_order_seq_cst);
#endif
}

// Takes the lowest free block of the page's cursor word `word_index`, whose bits (not 0)
// the caller read.
TALLY_INLINE uintptr_t page_take_block(Page* page, uint32_t word_index, uint64_t bits,
                                       uint32_t* index_out) {
  uint32_t index = word_index * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
  uintptr_t block = page->start + uintptr_t{index} * page->block_size;
  uint64_t remaining = bits & (bits - 1);
  // TALLY_HOLD_POINTER without its memory clobber: the store that makes the block live takes
  // its value from this statement, so it cannot come before the address is in a register.
  __asm__ volatile("" : "+r"(block), "+r"(remaining));
  page->free_bits[word_index].store(remaining, std::memory_order_relaxed);
  ++page->used;
  *index_out = index;
  return block;
}

TALLY_INLINE void* heap_allocate(Heap* heap, unsigned size_class) {
  Page* page = heap->current[size_class];
  uint32_t cursor = page->cursor;  // read once: the atomic loads below made it read thrice
  // The cursor word's free bits: 0 when the page has no block to hand out there
  // (heap_allocate_slow finds the next word, page or segment).
  uint64_t bits = page->free_bits[cursor].load(std::memory_order_relaxed);
  if (TALLY_UNLIKELY(bits == 0)) return heap_allocate_slow(heap, size_class);
#ifndef TALLY_NO_FREE_VALIDATION
  // A block in both maps was freed by its owner and by another thread at once, each free
  // missing the other (heap.cc, "Racing frees"): it is not handed out before the harvest
  // reports the second free and keeps the block free once.
  if (TALLY_UNLIKELY(page->remote_bits[cursor].load(std::memory_order_relaxed) & bits &
                     (~bits + 1)))
    return heap_allocate_after_racing_free(heap, size_class);
#endif
  uint32_t index;
  return reinterpret_cast<void*>(page_take_block(page, cursor, bits, &index));
}

// Free of block `index` of `page`, which belongs to `heap`, the calling thread's heap.
TALLY_INLINE FreeOutcome heap_free_local(Heap* heap, Page* page, uint32_t index) {
  uint32_t word = index >> 6;
  uint64_t bit = uint64_t{1} << (index & 63);
#ifndef TALLY_NO_FREE_VALIDATION
  if (TALLY_UNLIKELY(page->free_bits[word].load(std::memory_order_relaxed) & bit))
    return FreeOutcome::kDoubleFree;
  set_owner_bit(page->free_bits[word], bit);
  // Sequentially consistent: free on x86 (a plain load), and elsewhere it must not pass
  // the locked store before it.
  if (TALLY_UNLIKELY(page->remote_bits[word].load(std::memory_order_seq_cst) & bit))
    return heap_resolve_racing_free(page, word, bit);
#else
  set_owner_bit(page->free_bits[word], bit);
#endif
  if (word < page->cursor) page->cursor = word;
  // The heap's current page needs nothing when it empties (it keeps being allocated from).
  if (TALLY_UNLIKELY(--page->used == 0 || page->status == PageStatus::kFull) &&
      page->status != PageStatus::kCurrent)
    heap_page_freed_slow(heap, page);
  return FreeOutcome::kFreed;
}

// Quarantine claims to drop in bulk. A block leaving the quarantine gets its free bit
// back, then loses its claim (its quarantine bit) with an atomic AND, because other threads
// set claims of other blocks in the same word. Releasing a batch of hundreds of blocks,
// several of one word at a time, one AND per word costs a fraction of one per block. Until
// it is dropped a claim on a free block is harmless (the block reads as free, and a second
// free of it is caught either way) as long as nothing allocates from the heap meanwhile:
// an allocation would hand out a block whose claim makes its next free look double. So
// the drops are made before anything that may allocate or retire the page, and at the end
// of the batch. Kept on the releasing function's stack, so a release nested in it (a
// signal handler's) has its own.
struct ClaimDrops {
  static constexpr unsigned kSlots = 16;
  uint32_t filled = 0;          // bit i: slot i holds a word (the arrays are not cleared up front)
  ClaimDrops* outer = nullptr;  // the release this one interrupted (Heap::claim_drops_under_way)
  std::atomic<uint64_t>* word[kSlots];
  uint64_t bits[kSlots];

  TALLY_INLINE void add(std::atomic<uint64_t>* target, uint64_t bit) {
    uintptr_t key = reinterpret_cast<uintptr_t>(target);
    unsigned slot = static_cast<unsigned>((key >> 3) ^ (key >> 10)) % kSlots;
    uint32_t mask = uint32_t{1} << slot;
    if (TALLY_UNLIKELY(!(filled & mask) || word[slot] != target)) {
      if (filled & mask) word[slot]->fetch_and(~bits[slot], std::memory_order_seq_cst);
      filled |= mask;
      word[slot] = target;
      bits[slot] = 0;
    }
    bits[slot] |= bit;
  }
  void drop_all() {
    for (uint32_t pending = filled; pending; pending &= pending - 1) {
      unsigned slot = static_cast<unsigned>(__builtin_ctz(pending));
      word[slot]->fetch_and(~bits[slot], std::memory_order_seq_cst);
    }
    filled = 0;
  }
};

// Free of block `index` of a page `heap` owns, by a caller that holds an exclusive claim
// on the block (its quarantine bit): no other free can race this one, so the free bit is
// set with a plain store (only the owner writes free words). The claim goes to `drops`,
// all of which are dropped before the page can be retired (its header may go back to the
// kernel with it).
TALLY_INLINE void heap_free_local_claimed(Heap* heap, Page* page, uint32_t index,
                                          ClaimDrops& drops) {
  uint32_t word = index >> 6;
  uint64_t bit = uint64_t{1} << (index & 63);
  page->free_bits[word].store(page->free_bits[word].load(std::memory_order_relaxed) | bit,
                              std::memory_order_release);
  drops.add(&page->quarantine_bits[word], bit);
  if (word < page->cursor) page->cursor = word;
  if (TALLY_UNLIKELY(--page->used == 0 || page->status == PageStatus::kFull) &&
      page->status != PageStatus::kCurrent) {
    drops.drop_all();
    heap_page_freed_slow(heap, page);
  }
}

}  // namespace tally
