// The checked modes' allocation and free. A free in these modes:
//   1. claims the block by setting its quarantine bit (an atomic bit-test-and-set, so of
//      two racing frees exactly one wins and the other is a double free);
//   2. checks that the free matches the allocation (malloc/free, new/delete, new[]/delete[]);
//   3. checks the canary in the slack after the requested size (overflow);
//   4. records its stack, poisons the block and puts it in the quarantine.
// When the block leaves the quarantine its poison is verified (a changed byte is a write
// after free) and it is freed for real. Large blocks are made inaccessible instead of
// poisoned where protect_large asks for it (debug mode) and the page-protection budget
// allows it; guarded blocks stay inaccessible until their slot is reused.
#include "api/checked_allocation.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "api/allocation.h"
#include "api/block_lookup.h"
#include "api/live_canary_check.h"
#include "api/options.h"
#include "api/runtime.h"
#include "mark/marker.h"
#include "os/process.h"
#include "report/cxx_allocation_functions.h"
#include "report/stack_capture.h"
#include "report/stack_depot.h"
#include "report/stack_recorder.h"
#include "safety/canaries.h"
#include "safety/fault_handler.h"
#include "safety/fill_patterns.h"
#include "safety/guard_pool.h"
#include "safety/poison.h"
#include "safety/protection_budget.h"
#include "safety/quarantine.h"
#include "safety/safety_config.h"

namespace tally {
namespace {

AllocationKind kind_of_call(ApiCall call) {
  switch (call) {
    case kCallNew:
    case kCallDelete:
      return AllocationKind::kNew;
    case kCallNewArray:
    case kCallDeleteArray:
      return AllocationKind::kNewArray;
    case kCallNewAligned:
    case kCallDeleteAligned:
      return AllocationKind::kNewAligned;
    case kCallNewArrayAligned:
    case kCallDeleteArrayAligned:
      return AllocationKind::kNewArrayAligned;
    default:
      return AllocationKind::kMalloc;
  }
}

// The token bucket of guard_rate: one second's worth at most, refilled as time passes.
bool take_guard_token(Heap* heap) {
  if (TALLY_LIKELY(heap->guard_tokens > 0)) {
    --heap->guard_tokens;
    return true;
  }
  uint32_t now = monotonic_milliseconds();
  uint32_t rate = g_safety.guard_rate;
  // 0 means "never filled" (a clock that reads 0 only costs one extra refill).
  int32_t elapsed = static_cast<int32_t>(now - heap->guard_refilled_at);
  uint64_t earned = heap->guard_refilled_at == 0 ? rate
                    : elapsed > 0                ? uint64_t(elapsed) * rate / 1000
                                                 : 0;
  if (earned == 0) return false;
  heap->guard_refilled_at = now;
  heap->guard_tokens = static_cast<uint32_t>((earned < rate ? earned : rate) - 1);
  return true;
}

// Where a heap's first sample falls: anywhere in its first `sample_rate` allocations, drawn
// from the clock, the heap's address and the thread. Sampling the first allocation of
// every heap would guard the same start-up block in every run of a program and hardly
// ever the block a bug is in, and it made short test programs look better protected
// than production ones are.
TALLY_COLD uint32_t first_guard_countdown(const Heap* heap) {
  uint64_t seed = monotonic_nanoseconds() ^ reinterpret_cast<uintptr_t>(heap) ^
                  (uint64_t{current_thread_number()} << 40);
  seed = (seed ^ (seed >> 30)) * 0xbf58476d1ce4e5b9ULL;
  seed = (seed ^ (seed >> 27)) * 0x94d049bb133111ebULL;
  seed ^= seed >> 31;
  return static_cast<uint32_t>(seed % g_safety.sample_rate) + 1;
}

bool wants_guard(Heap* heap, size_t size, size_t alignment) {
  if (!guard_pool_enabled() || size > g_safety.guard_max_size || alignment > kOsPageSize)
    return false;
  if (g_safety.guard_all) return g_safety.guard_rate == 0 || take_guard_token(heap);
  if (g_safety.sample_rate == 0) return false;
  if (TALLY_UNLIKELY(heap->guard_countdown == 0))
    heap->guard_countdown = first_guard_countdown(heap);
  if (--heap->guard_countdown != 0) return false;
  // The next sample comes after between half and one and a half times the rate, so
  // allocation patterns cannot stay in step with the sampling.
  uint32_t rate = g_safety.sample_rate;
  uint32_t jitter =
      static_cast<uint32_t>((reinterpret_cast<uintptr_t>(&size) >> 4) ^ size) % (rate | 1);
  heap->guard_countdown = rate / 2 + jitter + 1;
  return true;
}

// The alignment of a guarded block: the largest power of two that divides its size, at most
// 16, so that a right-flush block ends at its guard page (or as near as it may), but never
// less than the C standard asks of malloc: room for any object that fits in the block, so
// 16 once the size is 16 or more, and the largest power of two not above a smaller size.
// Compilers count on that: python's ctypes objects have a 16-byte-aligned member that gcc
// stores with movaps, and a guarded object with an 8-byte-aligned size (aligned to 8 by the
// divisor rule alone) crashed test_ctypes in debug mode. The cost: a block whose size is not
// a multiple of 16 leaves slack before its guard page, which canaries cover for writes but
// where a read goes unseen. guard_alignment (guard_min_alignment) set explicitly replaces
// the standard's floor, for programs known not to need it. An aligned allocation call's
// alignment holds in every case.
size_t guard_alignment(size_t size, size_t requested) {
  size_t alignment = kMaxAlignmentOfMalloc;
  if (!g_safety.guard_left && size != 0) {
    size_t divisor = size & (~size + 1);
    size_t least = g_safety.guard_min_alignment != 0 ? g_safety.guard_min_alignment
                                                     : size_t{1} << (63 - __builtin_clzll(size));
    if (divisor < least) divisor = least;
    if (divisor < alignment) alignment = divisor;
  }
  return requested > alignment ? requested : alignment;
}

// How much of a freed block of `block_size` bytes is poisoned (and verified on release).
TALLY_INLINE size_t poisoned_bytes(size_t block_size) {
  return block_size < g_safety.poison_max_bytes ? block_size : g_safety.poison_max_bytes;
}
TALLY_INLINE size_t poisoned_bytes_of_large(size_t usable_size) {
  size_t bound = g_safety.large_poison_max_bytes;
  return usable_size < bound ? usable_size : bound;
}

// The bytes a block really spans (its class size, its pages), beyond its requested size.
size_t span_of(const BlockLookup& lookup) {
  switch (lookup.where) {
    case BlockLookup::kSmall:
      return lookup.page->block_size;
    case BlockLookup::kLarge:
      return lookup.large->usable_size;
    case BlockLookup::kGuarded:
      return guarded_canary_span(lookup.extent.start, lookup.extent.size);
    default:
      return lookup.extent.size;
  }
}

// Claims on free blocks that an allocation may meet. A release sets a block's free bit and
// drops its claim later, a word at a time (ClaimDrops); nothing allocates from the heap
// before the drop, except a signal handler that interrupts the release
// (t_releases_under_way says so). Everywhere else a claim the allocation meets is a racing
// free's, taken after the block was released: dropping it would let that free quarantine a
// live block with no claim, and the block's next free would quarantine it a second time.
// A release also registers its drops with the thread's heap, so that a fork in the middle
// of it leaves the child no claim to meet (checked_after_fork_in_child drops them).
__thread uint32_t t_releases_under_way = 0;

class ReleaseUnderWay {
 public:
  explicit ReleaseUnderWay(ClaimDrops& drops) : heap_(t_heap), drops_(drops) {
    ++t_releases_under_way;
    if (heap_) {
      drops_.outer = heap_->claim_drops_under_way;
      heap_->claim_drops_under_way = &drops_;
    }
  }
  ~ReleaseUnderWay() {
    if (heap_) heap_->claim_drops_under_way = drops_.outer;
    --t_releases_under_way;
  }

 private:
  Heap* heap_;
  ClaimDrops& drops_;
};

// A block being handed out must not carry a stale claim, or its next free would look double.
TALLY_INLINE void drop_stale_claim(Page* page, uint32_t index) {
  if (TALLY_LIKELY(t_releases_under_way == 0)) return;
  std::atomic<uint64_t>& claims = page->quarantine_bits[index >> 6];
  uint64_t bit = uint64_t{1} << (index & 63);
  if (TALLY_UNLIKELY(claims.load(std::memory_order_relaxed) & bit))
    claims.fetch_and(~bit, std::memory_order_seq_cst);
}

// Whether the free or remote map holds the block. The remote word is read first: a harvest
// sets the free bit before it clears the remote bit, so a block the harvest is moving
// is seen in one map or the other, never in neither.
TALLY_INLINE bool block_freed_in_maps(const Page* page, uint32_t word, uint64_t bit) {
  if (page->remote_bits[word].load(std::memory_order_acquire) & bit) return true;
  return (page->free_bits[word].load(std::memory_order_acquire) & bit) != 0;
}

TALLY_INLINE void really_free_small(Page* page, uint32_t index, ClaimDrops& drops) {
  Heap* heap = t_heap;
  if (heap && page->heap == heap) {
    // The quarantine bit is our claim: set the free bit, then drop the claim. A free racing
    // this release sees the free bit (or the claim) and is reported as a double free.
    return heap_free_local_claimed(heap, page, index, drops);
  }
  // Into the remote map with the claim still held: the block is never live during the
  // release, so a free racing it is caught by the claim before the remote bit and by the
  // bitmaps after it. After the remote bit this thread must not touch the page (its owner
  // may harvest it, empty it and retire it), so the claim is the owner's to drop: its
  // harvest does, as it moves the block into the free map. Dropping the claim here first
  // left the block live between the two steps, and a double free landing there was
  // quarantined a second time, to free the block again once it had a new owner.
  FreeOutcome outcome = heap_free_remote(page, index);
  if (outcome != FreeOutcome::kFreed) {
    // Free already, which the claim should have ruled out. The claim stays: the page may
    // be retiring under this thread.
    drops.drop_all();  // the report may allocate
    uintptr_t block = page->start + uintptr_t{index} * page->block_size;
    report_double_free(block, BlockExtent{block, page->block_size}, 0);
  }
}

TALLY_COLD void report_poison_damage(uintptr_t address, size_t damaged, ClaimDrops& drops) {
  drops.drop_all();  // the report may allocate
  BlockLookup lookup = lookup_block(address);
  BlockHistory history = history_of(lookup);
  history.freed = true;
  report_write_after_free(address + damaged, history);
}

// One block leaving the quarantine: verify the poison, then free for real (unless
// `release` is false: the check at exit only verifies).
TALLY_INLINE void release_one(uintptr_t address, ClaimDrops& drops, bool release = true) {
  if (TALLY_LIKELY(registry_lookup(address) == kRegistrySegment)) {
    // The quarantine only holds block starts it was given, so the index is exact.
    Page* page = page_of(segment_of(address), address);
    uint32_t index =
        static_cast<uint32_t>(((address - page->start) * page->reciprocal) >> kReciprocalShift);
    if (g_safety.poison) {
      size_t damaged =
          poison_first_damage(reinterpret_cast<void*>(address), poisoned_bytes(page->block_size));
      if (TALLY_UNLIKELY(damaged != SIZE_MAX)) report_poison_damage(address, damaged, drops);
    }
    if (release) really_free_small(page, index, drops);
    return;
  }
  BlockLookup lookup = lookup_block(address);
  if (lookup.where != BlockLookup::kSmall && lookup.where != BlockLookup::kLarge) return;
  if (g_safety.poison && !(lookup.where == BlockLookup::kLarge && lookup.large->pages_protected)) {
    size_t span = span_of(lookup);
    size_t damaged = poison_first_damage(
        reinterpret_cast<void*>(address),
        lookup.where == BlockLookup::kLarge ? poisoned_bytes_of_large(span) : poisoned_bytes(span));
    if (damaged != SIZE_MAX) report_poison_damage(address, damaged, drops);
  }
  if (!release) return;
  if (lookup.where == BlockLookup::kLarge) {
    if (lookup.large->pages_protected) {
      uint64_t started = protection_budget_clock();
      large_unprotect_quarantined(lookup.large);
      protection_budget_charge(started, 0);  // the refaults were charged at protection
    }
    return large_leave_quarantine(lookup.large);
  }
  really_free_small(lookup.page, lookup.index, drops);
}

// The quarantine's release hook, a batch at a time.
void release_from_quarantine(const uintptr_t* blocks, uint32_t count) {
  ClaimDrops drops;
  ReleaseUnderWay under_way(drops);
  // The blocks are cold (they were freed a quarantine ago): fetch a few ahead, so that
  // verifying one overlaps with loading the next.
  constexpr uint32_t kAhead = 4;
  for (uint32_t i = 0; i < count && i < kAhead; ++i)
    __builtin_prefetch(reinterpret_cast<const void*>(blocks[i]));
  for (uint32_t i = 0; i < count; ++i) {
    if (i + kAhead < count) __builtin_prefetch(reinterpret_cast<const void*>(blocks[i + kAhead]));
    release_one(blocks[i], drops);
  }
  drops.drop_all();
}

// The check at exit: every quarantined block's poison is verified, none is freed. Freeing
// them would only write to pages the process is about to drop, and in a forked child
// every such write copies a page the parent shares (bash's command substitutions spent
// 15 ms each releasing the quarantine they inherited).
void verify_quarantined(const uintptr_t* blocks, uint32_t count) {
  ClaimDrops drops;
  for (uint32_t i = 0; i < count; ++i) {
    if (i + 4 < count) __builtin_prefetch(reinterpret_cast<const void*>(blocks[i + 4]));
    release_one(blocks[i], drops, false);
  }
}

// Safe and debug mode give every block at least one byte of slack (canary_slack), so
// off-by-one writes hit a canary; except, in debug mode, a large block of whole pages, which
// then ends at its tail guard (a byte more would give it a page of slack where reads past
// the end go unseen). Safe mode leaves out the sizes whose byte would cost a reservation:
// 256 KiB (the largest small block), which would become a large block of 4 MiB of address
// space, and a large block of whole 4 MiB slots, which would take one more (python ran out
// of address space under `ulimit -v 100000` with them).
size_t bytes_needed_for(size_t size) {
  if (!g_safety.canary_slack) return size;
  if (g_safety.guard_all) {
    if (size > kMaxSmallSize && size % kOsPageSize == 0 && g_safety.protect_large) return size;
  } else if (size == kMaxSmallSize || (size > kMaxSmallSize && size % kSegmentSize == 0)) {
    return size;
  }
  return size + 1;
}

GuardFaultOutcome report_guard_fault_from_handler(const GuardFault& fault) {
  // The block the fault is about: the guarded block whose data or guard page was hit, or
  // the quarantined large block whose pages were made inaccessible. Its extent is kept
  // even when the address lies outside it (overflows) or it is freed.
  BlockLookup lookup = lookup_block(fault.address);
  bool freed;
  if (GuardSlot* slot = guard_pool_slot_of(fault.address)) {
    lookup.where = BlockLookup::kGuarded;
    lookup.slot = slot;
    lookup.record = &slot->record;
    lookup.extent = {slot->block, slot->record.size()};
    freed = slot->state.load(std::memory_order_acquire) == GuardSlotState::kFreed;
  } else if (lookup.where == BlockLookup::kLarge &&
             lookup.large->state.load(std::memory_order_acquire) == LargeState::kQuarantined) {
    lookup.extent = {lookup.large->base, lookup.large->requested_size};
    freed = lookup.large->state.load(std::memory_order_acquire) == LargeState::kQuarantined;
  } else if (LargeBlock* large = large_tail_guard_owner(fault.address)) {
    // Past the end of a large block, in the page left inaccessible after it.
    lookup.where = BlockLookup::kLarge;
    lookup.large = large;
    lookup.record = &large->record;
    lookup.extent = {large->base, large->requested_size};
    freed = large->state.load(std::memory_order_acquire) != LargeState::kLive;
  } else if (LargeBlock* above = large_block_just_above(fault.address)) {
    // Before the start of a large block, in memory that is not ours and faulted.
    lookup.where = BlockLookup::kLarge;
    lookup.large = above;
    lookup.record = &above->record;
    lookup.extent = {above->base, above->requested_size};
    freed = false;
  } else {
    return GuardFaultOutcome::kNotOurs;  // the handler passes the fault on
  }
  lookup.kind = freed ? BlockLookup::kFreed : BlockLookup::kLive;
  BlockHistory history = history_of(lookup);
  history.freed = freed;
  report_guard_fault(freed ? "heap-use-after-free" : "heap-buffer-overflow", fault.address,
                     fault.is_write, fault.pc, history);
  // Back here only under halt_on_error=0, which carries on: what the access hit is opened
  // so that it runs (reading or overwriting a freed block or a guard page, as it would
  // without tally), and reports no more accesses until its memory is used anew.
  bool opened = false;
  if (lookup.where == BlockLookup::kGuarded)
    opened = guard_pool_open_faulting_pages(lookup.slot, fault.address, lookup.extent.start);
  else if (fault.address >= lookup.large->base)  // its quarantined pages or its tail guard
    opened = large_open_faulting_pages(lookup.large, fault.address);
  // Below a large block (not tally's memory), or the kernel refused: no carrying on.
  return opened ? GuardFaultOutcome::kCarryOn : GuardFaultOutcome::kReportedOnly;
}

// What a checked free found wrong with the block it owns: a mismatched kind of free, a
// sized delete of the wrong size, or a damaged canary byte at `damaged_at` (after the
// block, or before a guarded one).
constexpr uintptr_t kMismatchedFree = 0;
constexpr uintptr_t kMismatchedSize = 1;

// A mismatch made by the program's own copy of a C++ allocation function, not by the
// program: malloc called from an operator new (a replaced one, or a private C++ runtime
// linked into a library) and the block deleted with tally's operator delete, or a block
// of tally's operator new freed with free from an operator delete. The C++ runtime's new
// is malloc and its delete is free, so such pairs match. Known from the allocation stack
// (so only where it was captured: debug mode) and the free's caller.
TALLY_COLD bool mismatch_made_by_own_cxx_functions(const BlockRecord* record, ApiCall call,
                                                   uintptr_t caller) {
  bool allocated_by_malloc = record->kind() == AllocationKind::kMalloc;
  bool freed_by_free = kind_of_call(call) == AllocationKind::kMalloc;
  if (allocated_by_malloc && !freed_by_free) {
    uintptr_t allocated_from;
    if (record->alloc_stack == 0 || stack_depot_get(record->alloc_stack, &allocated_from, 1) < 1)
      return false;
    return cxx_allocation_function_at(stack_frame_pc(allocated_from)) ==
           CxxAllocationFunction::kOperatorNew;
  }
  if (!allocated_by_malloc && freed_by_free && caller != 0)
    return cxx_allocation_function_at(stack_frame_pc(caller)) ==
           CxxAllocationFunction::kOperatorDelete;
  return false;
}

// True if it reported (a mismatch the C++ runtime's own functions made is no bug).
TALLY_COLD bool report_free_problem(uintptr_t start, ApiCall call, uintptr_t caller,
                                    uintptr_t damaged_at, size_t deleted_size = 0) {
  BlockLookup lookup = lookup_block(start);
  lookup.kind = BlockLookup::kLive;
  if (damaged_at == kMismatchedFree &&
      mismatch_made_by_own_cxx_functions(lookup.record, call, caller))
    return false;
  BlockHistory history = history_of(lookup);
  history.freed = false;
  if (damaged_at == kMismatchedSize) {
    report_new_delete_size_mismatch(start, deleted_size, history, caller);
  } else if (damaged_at == kMismatchedFree) {
    report_alloc_dealloc_mismatch(start, allocation_kind_name(lookup.record->kind(), false),
                                  allocation_kind_name(kind_of_call(call), true), history, caller);
  } else {
    report_overflow_found_at_free(damaged_at, history, caller);
  }
  return true;
}

TALLY_COLD Heap* heap_for_freeing_thread() {
  if (t_heap_given_back) return nullptr;
  runtime_ensure_initialized();
  return heap_acquire_for_thread();
}

// `size` is the requested size (a large block's is wider than its record's size field).
// `deleted_size`, when not 0, is the object size a sized operator delete was given: the
// compiler's idea of the deleted type, which must be the size new was asked for (a base
// class without a virtual destructor deleted through its pointer gives the base's size).
TALLY_INLINE void check_and_record_free(uintptr_t start, size_t size, size_t span,
                                        BlockRecord* record, ApiCall call, uintptr_t caller,
                                        size_t deleted_size = 0) {
  // The canary's line is cold when the block lived long: fetched while the stack is
  // recorded (50-100 ns of the walk or the memo), it is there when the check reads it.
  __builtin_prefetch(reinterpret_cast<const void*>(start + size));
  uint32_t free_stack = g_safety.free_stacks ? stack_record_current(g_safety.stack_depth) : 0;
  bool mismatch_reported = false;
  if (g_safety.alloc_dealloc_mismatch && TALLY_UNLIKELY(record->kind() != kind_of_call(call)))
    mismatch_reported = report_free_problem(start, call, caller, kMismatchedFree);
  // A sized delete of a block that new did not make (halt_on_error=0 gets here after the
  // mismatch's report): its size is no type's, and a second report would say so wrongly.
  if (TALLY_UNLIKELY(deleted_size != 0) && g_safety.new_delete_type_mismatch &&
      TALLY_UNLIKELY(deleted_size != size) && !mismatch_reported)
    report_free_problem(start, call, caller, kMismatchedSize, deleted_size);
  size_t damaged = damaged_canary(start, size, span);
  if (TALLY_UNLIKELY(damaged != SIZE_MAX))
    report_free_problem(start, call, caller, start + size + damaged);
  record->free_thread = static_cast<uint16_t>(current_thread_number());
  // Last, released: a racing double free waits for it (report_double_free_after_claim).
  __atomic_store_n(&record->free_stack, free_stack, __ATOMIC_RELEASE);
}

// A double free found by a free that lost the race for the block's claim: the winner
// records its stack and thread only after claiming, so give it a moment (bounded, this is
// the report path) to finish, and the report shows who freed the block first.
TALLY_COLD void report_double_free_after_claim(const BlockLookup& lookup, uintptr_t address,
                                               uintptr_t caller) {
  if (g_safety.free_stacks && lookup.record) {
    uint32_t started = monotonic_milliseconds();
    while (__atomic_load_n(&lookup.record->free_stack, __ATOMIC_ACQUIRE) == 0 &&
           monotonic_milliseconds() - started < 200)
      sched_yield();
  }
  report_double_free_with_history(address, history_of(lookup), caller);
}

TALLY_COLD void report_not_live(const BlockLookup& lookup, uintptr_t address, uintptr_t caller) {
  if (lookup.kind == BlockLookup::kFreed)
    return report_double_free_after_claim(lookup, address, caller);
  // A guarded block freed long ago, its slot reused since: the address is where it
  // started, which is no live block's start, so this free is most likely its second. It
  // may lie inside the slot's live block, and the report says so: a bad free of a pointer
  // into that block that happens to fall on an old start reads the same.
  BlockRecord departed;
  if (lookup.where == BlockLookup::kGuarded && guard_pool_departed(address, &departed)) {
    BlockLookup former = lookup;
    former.kind = BlockLookup::kFreed;
    former.extent = {address, departed.size()};
    former.record = &departed;
    BlockExtent now_inside = lookup.kind == BlockLookup::kInterior &&
                                     address >= lookup.extent.start &&
                                     address < lookup.extent.start + lookup.extent.size
                                 ? lookup.extent
                                 : BlockExtent{0, 0};
    return report_double_free_of_departed(address, history_of(former), now_inside, caller);
  }
  report_bad_pointer(address, caller);
}

// A realloc that the block's own room can take: the canary of the old size is checked
// (an overflow is reported as at free), the record takes the new size and the slack gets
// a new canary. nullptr when the block must move (no room, a guarded block, a large block
// past its reservation with no free address space after it, or a small block shrinking to
// less than half).
void* reallocate_in_place(const BlockLookup& lookup, size_t size, uintptr_t caller) {
  uintptr_t start = lookup.extent.start;
  size_t needed = bytes_needed_for(size);
  size_t span;
  if (lookup.where == BlockLookup::kSmall) {
    span = lookup.page->block_size;
    if (needed > span || (size < span / 2 && span > 64) || size > kMaxSmallSize) return nullptr;
  } else if (lookup.where == BlockLookup::kLarge) {
    // Past its reservation, a block grows in place where the address space after it is
    // free, as in fast mode, and is copied or moved only where it is not: a buffer grown
    // by 32 KiB steps to 54 MB peaked at 61 MiB, and now at fast mode's 57.
    if (size <= kMaxSmallSize || !large_extend_in_place(lookup.large, needed)) return nullptr;
    span = lookup.large->usable_size;
  } else {
    return nullptr;
  }
  BlockRecord* record = lookup.record;
  if (g_safety.alloc_dealloc_mismatch && TALLY_UNLIKELY(record->kind() != AllocationKind::kMalloc))
    report_free_problem(start, kCallRealloc, caller, kMismatchedFree);
  size_t damaged = damaged_canary(start, lookup.extent.size, span);
  if (TALLY_UNLIKELY(damaged != SIZE_MAX))
    report_free_problem(start, kCallRealloc, caller, start + lookup.extent.size + damaged);
  if (lookup.where == BlockLookup::kLarge) {
    if (!large_reallocate(lookup.large, needed)) return nullptr;
    lookup.large->requested_size = size;
    span = lookup.large->usable_size;
  }
  record->set(size, record->kind());
  fill_canary(start, size, span);
  return reinterpret_cast<void*>(start);
}

// Debug mode's realloc of a large block moves it, like every realloc, so that a stale
// pointer to the old block reaches the quarantine; but by moving its pages, not copying
// them (a string grown by appends to 4 MiB was copied over and over: realloc_growth ran
// slower than under memcheck). The old range stays behind, empty and inaccessible, as a
// quarantined husk. nullptr when the kernel refuses: the caller copies.
// Whether a freed large block may be made inaccessible now: past the budget it is
// poisoned instead (writes after free are still caught, at release).
bool protect_large_allowed() {
  if (protection_budget_allows()) return true;
  protection_budget_note_refusal();
  return false;
}

void* reallocate_large_moving_pages(const BlockLookup& lookup, size_t size, size_t needed,
                                    uintptr_t caller) {
  LargeBlock* large = lookup.large;
  uintptr_t old_start = lookup.extent.start;
  BlockRecord saved = *lookup.record;
  check_and_record_free(old_start, lookup.extent.size, span_of(lookup), lookup.record, kCallFree,
                        caller);
  bool not_live;
  uint64_t started = protection_budget_clock();
  LargeBlock* husk = large_move_leaving_husk(large, needed, &not_live);
  // The system calls only: the moved pages refault where they are touched, as a copy's
  // fresh pages would fault.
  if (husk) protection_budget_charge(started, 0);
  if (!husk) {
    if (not_live)
      report_double_free_after_claim(lookup, old_start, caller);
    else
      *lookup.record = saved;
    return nullptr;
  }
  // From here to the return the program's pointer leads to the husk, and the block's new
  // address is only in its descriptor, which the marker does not scan: a leak check that
  // stopped this thread in between (in quarantine_put, waiting for the lock the check
  // holds) reported the block, and all it pointed to, as leaked. Held in a register or
  // this frame, where the stopped thread's roots include it.
  uintptr_t moved_to = large->base;
  TALLY_HOLD_POINTER(moved_to);
  BlockRecord record;
  record.set(size, AllocationKind::kMalloc);
  record.alloc_stack = g_safety.alloc_stacks ? stack_record_current(g_safety.stack_depth) : 0;
  record.free_stack = 0;
  record.alloc_thread = static_cast<uint16_t>(current_thread_number());
  record.free_thread = 0;
  large->record = record;
  large->requested_size = size;
  fill_canary(moved_to, size, large->usable_size);
  quarantine_put(t_heap, husk->base, husk->usable_size);
  TALLY_HOLD_POINTER(moved_to);
  return reinterpret_cast<void*>(moved_to);
}

}  // namespace

const char* allocation_kind_name(AllocationKind kind, bool for_free) {
  switch (kind) {
    case AllocationKind::kMalloc:
      return for_free ? "free" : "malloc";
    case AllocationKind::kNew:
      return for_free ? "operator delete" : "operator new";
    case AllocationKind::kNewArray:
      return for_free ? "operator delete []" : "operator new []";
    case AllocationKind::kNewAligned:
      return for_free ? "operator delete (aligned)" : "operator new (aligned)";
    case AllocationKind::kNewArrayAligned:
      return for_free ? "operator delete [] (aligned)" : "operator new [] (aligned)";
  }
  return "?";
}

TALLY_NOINLINE void* allocate_checked(size_t size, size_t alignment, ApiCall call) {
  if (size > kMaxRequest || alignment > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  Heap* heap = t_heap;
  if (!heap) {
    runtime_ensure_initialized();
    heap = heap_acquire_for_thread();
    if (!heap) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  ++heap->api_calls[call];
  size_t requested_alignment = alignment;
  if (alignment < kMaxAlignmentOfMalloc) alignment = kMaxAlignmentOfMalloc;
  AllocationKind kind = kind_of_call(call);
  uint16_t alloc_thread = static_cast<uint16_t>(current_thread_number());
  uint32_t alloc_stack = kNoStack;
  bool stack_recorded = !g_safety.alloc_stacks;
  auto record_stack = [&] {
    if (!stack_recorded) alloc_stack = stack_record_current(g_safety.stack_depth);
    stack_recorded = true;
  };

  if (wants_guard(heap, size, alignment)) {
    record_stack();
    BlockRecord record;
    record.store_fresh(size, kind, alloc_stack, alloc_thread);
    GuardSlot* slot;
    if (void* block =
            guard_pool_allocate(size, guard_alignment(size, requested_alignment), record, &slot)) {
      if (call == kCallMallocAtomic) marker_set_no_scan(reinterpret_cast<uintptr_t>(block));
      BlockLookup lookup = lookup_block(reinterpret_cast<uintptr_t>(block));
      if (call == kCallCalloc) memset(block, 0, size);
      fill_canary(reinterpret_cast<uintptr_t>(block), size, span_of(lookup));
      fill_front_canary(reinterpret_cast<uintptr_t>(block));
      return block;
    }
  }
  size_t needed = bytes_needed_for(size);
  unsigned size_class = kClassCount;
  if (needed <= kMaxSmallSize)
    size_class = alignment <= kMaxAlignmentOfMalloc ? size_class_of(needed)
                                                    : size_class_for_alignment(needed, alignment);
  uintptr_t block;
  size_t span;
  if (size_class < kClassCount) {
    if (call == kCallMallocAtomic) size_class = no_scan_class(size_class);
    block = reinterpret_cast<uintptr_t>(heap_allocate(heap, size_class));
    if (!block) return nullptr;
    Page* page = page_of(segment_of(block), block);
    uint32_t index =
        static_cast<uint32_t>(((block - page->start) * page->reciprocal) >> kReciprocalShift);
    // The block is live from here: its record is written at once, so that a racing free of
    // a stale pointer to it (a double free) is judged by this life's record, not the last.
    // A block back from quarantine is cold: the canary's line is fetched, and the record's
    // store completes, while the stack is recorded; its id is filled in last.
    __builtin_prefetch(reinterpret_cast<const void*>(block + size), 1);
    drop_stale_claim(page, index);
    BlockRecord* record = record_of(page, index);
    record->store_fresh(size, kind, alloc_stack, alloc_thread);
    if (!stack_recorded) {
      record_stack();
      __atomic_store_n(&record->alloc_stack, alloc_stack, __ATOMIC_RELAXED);
    }
    span = page->block_size;
    if (call == kCallCalloc) memset(reinterpret_cast<void*>(block), 0, size);
  } else {
    // calloc: pages fresh from the kernel are zero already; writing zeros to them all made
    // every page of a big calloc'd buffer resident, used or not.
    record_stack();
    block = reinterpret_cast<uintptr_t>(large_allocate(needed, alignment, call == kCallCalloc));
    if (!block) return nullptr;
    LargeBlock* large = large_block_of_entry(registry_lookup(block));
    large->record.store_fresh(size, kind, alloc_stack, alloc_thread);
    large->requested_size = size;
    if (call == kCallMallocAtomic)
      large->mark_flags.fetch_or(kNoScanFlag, std::memory_order_relaxed);
    span = large->usable_size;
  }
  fill_canary(block, size, span);
  return reinterpret_cast<void*>(block);
}

// The common checked allocation, in a lane of its own (allocate_checked saves and restores
// a dozen registers around its many calls): a small block from the class's current page, no
// allocation stack, no guard due. Whatever else comes up is allocate_checked's, before this
// lane has changed anything. It does what allocate_checked does in that case, no less.
// calloc never comes here: allocate_zeroed takes allocate_checked in the checked modes.
TALLY_NOINLINE void* allocate_checked_small(Heap* heap, size_t size, ApiCall call) {
  // Below the largest small size: its byte of slack would make it large (bytes_needed_for).
  if (TALLY_UNLIKELY(!g_safety.lean_small_allocation || size >= kMaxSmallSize))
    return allocate_checked(size, 0, call);
  size_t needed = size + (g_safety.canary_slack ? 1 : 0);
  unsigned size_class = size_class_of(needed);
  Page* page = heap->current[size_class];
  uint32_t cursor = page->cursor;  // read once, as heap_allocate does
  uint64_t bits = page->free_bits[cursor].load(std::memory_order_relaxed);
  if (TALLY_UNLIKELY(bits == 0)) return allocate_checked(size, 0, call);
  // wants_guard's count, where it would not sample: the sample itself is allocate_checked's.
  if (g_safety.sample_rate != 0 && guard_pool_enabled() && size <= g_safety.guard_max_size) {
    if (TALLY_UNLIKELY(heap->guard_countdown <= 1)) return allocate_checked(size, 0, call);
    --heap->guard_countdown;
  }
  ++heap->api_calls[call];
  uint32_t index;
  uintptr_t block = page_take_block(page, cursor, bits, &index);
  drop_stale_claim(page, index);
  record_of(page, index)
      ->store_fresh(size, kind_of_call(call), kNoStack,
                    static_cast<uint16_t>(current_thread_number()));
  fill_canary(block, size, page->block_size);
  return reinterpret_cast<void*>(block);
}

TALLY_NOINLINE void deallocate_checked(void* pointer, ApiCall call, uintptr_t caller,
                                       size_t deleted_size) {
  Heap* heap = t_heap;
  if (!pointer) {
    // A call all the same, as fast mode counts it (sed -z showed 4x more frees there).
    if (heap) ++heap->api_calls[call];
    return;
  }
  // A thread that only frees (the consumer of a producer/consumer pair) takes a heap
  // too: without one its frees would share the quarantine's locked batch for heapless
  // threads and walk their stacks without the memo (4x slower on xmalloc_test).
  if (TALLY_UNLIKELY(!heap)) heap = heap_for_freeing_thread();
  if (heap) ++heap->api_calls[call];
  uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  if (TALLY_LIKELY(registry_lookup(address) == kRegistrySegment)) {
    Page* page = page_of(segment_of(address), address);
    uint32_t index = block_index_of(page, address);
    if (TALLY_LIKELY(index != UINT32_MAX)) {
      uint32_t word = index >> 6;
      uint64_t bit = uint64_t{1} << (index & 63);
      // Claim the block for the quarantine: of two racing frees exactly one wins. The claim
      // alone does not say the block is live: a release sets the free bit (or the remote
      // bit) before the claim is dropped, so a claim taken after the drop finds the block
      // free in the maps, which are read again once it is taken; such a claim is given up
      // and the free reported as double.
      if (TALLY_LIKELY(!block_freed_in_maps(page, word, bit)) &&
          TALLY_LIKELY(
              !(page->quarantine_bits[word].fetch_or(bit, std::memory_order_seq_cst) & bit))) {
        if (TALLY_UNLIKELY(block_freed_in_maps(page, word, bit))) {
          // Looked up while the claim holds the block (it reads as freed), then given up.
          BlockLookup lookup = lookup_block(address);
          page->quarantine_bits[word].fetch_and(~bit, std::memory_order_seq_cst);
          return report_double_free_after_claim(lookup, address, caller);
        }
        size_t block_size = page->block_size;
        if (TALLY_UNLIKELY(page->has_ignored)) page_forget_ignored(page, index);
        BlockRecord* record = record_of(page, index);
        check_and_record_free(address, record->size(), block_size, record, call, caller,
                              deleted_size);
        if (g_safety.poison) poison_block(pointer, poisoned_bytes(block_size));
        if (g_safety.quarantine)
          quarantine_put(heap, address, block_size);
        else {
          ClaimDrops drops;
          ReleaseUnderWay under_way(drops);
          really_free_small(page, index, drops);
          drops.drop_all();
        }
        return;
      }
    }
  }
  BlockLookup lookup = lookup_block(address);
  if (lookup.kind != BlockLookup::kLive) return report_not_live(lookup, address, caller);
  switch (lookup.where) {
    case BlockLookup::kSmall:
      // The lean lane above handles every live small block; here it was freed meanwhile.
      return report_double_free_after_claim(lookup, address, caller);
    case BlockLookup::kLarge: {
      if (!large_enter_quarantine(lookup.large))
        return report_double_free_after_claim(lookup, address, caller);
      // Before the pages become inaccessible.
      check_and_record_free(address, lookup.extent.size, span_of(lookup), lookup.record, call,
                            caller, deleted_size);
      if (!g_safety.quarantine) return large_leave_quarantine(lookup.large);
      if (g_safety.protect_large && protect_large_allowed()) {
        uint64_t started = protection_budget_clock();
        large_protect_quarantined(lookup.large);
        // Its pages refault when the block is used again, if they ever are.
        protection_budget_charge(started, lookup.large->usable_size / kOsPageSize);
      } else if (g_safety.poison)
        poison_block(pointer, poisoned_bytes_of_large(lookup.large->usable_size));
      quarantine_put(heap, address, lookup.large->usable_size);
      return;
    }
    case BlockLookup::kGuarded: {
      if (uintptr_t damaged_at = damaged_front_canary(address))
        report_free_problem(address, call, caller, damaged_at);
      check_and_record_free(address, lookup.extent.size, span_of(lookup), lookup.record, call,
                            caller, deleted_size);
      if (guard_pool_free(lookup.slot) != FreeOutcome::kFreed)
        report_double_free_with_history(address, history_of(lookup), caller);
      return;
    }
    default:
      return report_bad_pointer(address, caller);
  }
}

TALLY_NOINLINE void* reallocate_checked(void* pointer, size_t size, ApiCall call,
                                        uintptr_t caller) {
  if (!pointer) return allocate_checked(size, 0, call);
  if (size == 0) {
    deallocate_checked(pointer, kCallFree, caller);
    return nullptr;
  }
  if (size > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  BlockLookup lookup = lookup_block(reinterpret_cast<uintptr_t>(pointer));
  if (lookup.kind != BlockLookup::kLive) {
    report_not_live(lookup, reinterpret_cast<uintptr_t>(pointer), caller);
    return nullptr;
  }
  if (!g_safety.realloc_moves) {
    if (void* same = reallocate_in_place(lookup, size, caller)) return same;
  }
  // Move: a stale pointer to the old block then points into quarantine.
  size_t needed = bytes_needed_for(size);
  // Not subject to the budget: a copy costs more (the new block's pages fault as they are
  // filled, and the old ones are poisoned and verified). Safe mode too, for big blocks,
  // though it leaves freed large blocks accessible: a copy there kept the old block's pages
  // resident in the quarantine or the cache of large blocks (a buffer grown to 128 MiB by
  // doubling peaked at 256 MB, twice fast mode's), where moving the pages holds them once
  // and leaves the old range inaccessible, so a stale pointer to it faults. Smaller ones
  // are still copied there: a copy lands in a cached reservation and reuses its pages, where
  // the moved pages replace them and the growth faults in fresh ones (a buffer grown from
  // 300 KiB to 6 MiB and freed, 200 times over, took 3.8 s moving and 0.06 s copying).
  constexpr size_t kSafeModeMovesPagesFrom = size_t{8} << 20;
  if (lookup.where == BlockLookup::kLarge && needed > kMaxSmallSize &&
      (g_safety.protect_large ||
       (g_safety.quarantine && lookup.extent.size >= kSafeModeMovesPagesFrom))) {
    if (void* moved = reallocate_large_moving_pages(lookup, size, needed, caller)) return moved;
    if (lookup.large->state.load(std::memory_order_acquire) != LargeState::kLive) return nullptr;
  }
  void* fresh = allocate_checked(size, 0, call);
  if (!fresh) return nullptr;
  memcpy(fresh, pointer, size < lookup.extent.size ? size : lookup.extent.size);
  deallocate_checked(pointer, kCallFree, caller);
  return fresh;
}

void checked_after_fork_in_child() {
  heap_for_each(
      [](Heap* heap, void*) {
        for (ClaimDrops* drops = heap->claim_drops_under_way; drops; drops = drops->outer)
          drops->drop_all();
        heap->claim_drops_under_way = nullptr;
      },
      nullptr);
}

void checked_initialize() {
  quarantine_set_release(release_from_quarantine);
  if (g_safety.guard_all || g_safety.sample_rate)
    guard_pool_initialize(g_safety.guard_pool_slots, g_safety.guard_max_size, g_safety.guard_left,
                          g_safety.guard_markers);
  protection_budget_set_time_percent(g_safety.guard_time_percent);
  static const ProtectionCosts kTailGuardCosts{protect_large_allowed, protection_budget_clock,
                                               protection_budget_charge};
  large_set_tail_guards(g_safety.guard_all && g_safety.protect_large, &kTailGuardCosts);
  // Quarantined large blocks are inaccessible too, so the handler is wanted even without a pool.
  if (guard_pool_enabled() || g_safety.quarantine)
    fault_handler_install(report_guard_fault_from_handler, report_wild_fault);
}

void checked_verify_quarantine_at_exit() {
  if (g_safety.quarantine) quarantine_verify_held(verify_quarantined);
}

void checked_canaries_at_exit() {
  if (g_safety.canaries_at_exit) live_canary_check(g_options.verbosity > 0);
}

}  // namespace tally
