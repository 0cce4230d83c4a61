// Guarded blocks: a bounded pool of slots, each a few data pages between inaccessible
// guard pages, reserved once at start-up. A block sits flush against its right guard page
// (or, with guard_side=left, against its left one), so the first byte past its end (or
// before its start) faults at the instruction. When freed, its pages become inaccessible
// and stay so until the slot is reused, oldest freed first, so a use after free faults
// too. The pool's size bounds both its memory and its mappings (the kernel allows 65,530):
// about two per live slot.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "core/block_record.h"
#include "core/heap.h"

namespace tally {

enum class GuardSlotState : uint8_t { kUnused, kLive, kFreed };

struct GuardSlot {
  std::atomic<GuardSlotState> state;
  uintptr_t block;  // the program's address
  BlockRecord record;
  uint32_t next_freed;              // FIFO of freed slots, by index
  std::atomic<uint8_t> mark_flags;  // the marker's bits (core/large_blocks.h), reset per use
  bool data_protected;              // freed, its data pages made inaccessible with mprotect
  bool lifted;  // under the pool's lock: its pages or guards were opened after a fault
};

// Reserves the pool; false if the kernel refuses (then nothing is guarded).
// Allocations are paid from the page-protection budget (protection_budget.h).
// With `markers`, guard pages are the kernel's guard markers where it has them (Linux
// 6.13): the pool stays one mapping, instead of two mappings for every slot in use.
bool guard_pool_initialize(size_t slot_count, size_t max_block_size, bool guard_left, bool markers);
// Whether the pool's guards are guard markers (else inaccessible mappings).
bool guard_pool_uses_markers();
extern bool g_guard_pool_enabled;
inline bool guard_pool_enabled() {
  return g_guard_pool_enabled;
}
// A guarded block of `size` bytes, or nullptr when no slot is free or the request does
// not fit. The slot's record is `record` before the slot reads as live: the marker, with the
// world stopped at any instruction (or a child forked at one), takes a live slot's extent
// from its record.
void* guard_pool_allocate(size_t size, size_t alignment, const BlockRecord& record,
                          GuardSlot** slot_out);
// The end of the slot's data pages: no extent the marker scans may pass it.
uintptr_t guard_pool_data_end(const GuardSlot* slot);
// The slot whose data pages or guard pages hold `address`, or nullptr if the address is
// not in the pool. For an address in a guard page, the slot whose block the guard protects.
GuardSlot* guard_pool_slot_of(uintptr_t address);
bool guard_pool_contains(uintptr_t address);
// Protects the block's pages and queues the slot for reuse. kDoubleFree if not live.
FreeOutcome guard_pool_free(GuardSlot* slot);
// Opens what the access at `address` faulted on, so that it runs when the fault handler
// returns (halt_on_error=0 reports a fault and carries on): a guard page, or all of a freed
// slot's data (one report for a freed block, not one a page). `block` is the slot's block
// as the report saw it; a slot reused since is left alone (the access runs again against
// what is there now). The slots beside an opened guard page, or the slot whose data was
// opened, get their guards and markers back at their next use. False if the kernel
// refused (mappings at their limit): the access would only fault again.
bool guard_pool_open_faulting_pages(GuardSlot* slot, uintptr_t address, uintptr_t block);
// Whether a block whose slot has been reused since started at `address`, and its record
// (the last such block, if several did): a free of it is a double free.
bool guard_pool_departed(uintptr_t address, BlockRecord* record);
size_t guard_pool_live_slots();
// The bytes the program asked for in the live guarded blocks (what statistics count live).
size_t guard_pool_live_bytes();
// The pages the live guarded blocks touch: what statistics count committed for them (a
// freed slot's pages are dropped, or, with mprotect, mostly a page kept a slot).
size_t guard_pool_live_pages_bytes();

struct GuardPoolStats {
  uint64_t guarded;           // allocations that got a slot
  uint64_t refused_for_time;  // allocations the time budget turned away
  uint64_t slots_used;        // slots that have held a block (the others were never touched)
};
GuardPoolStats guard_pool_stats();
// Every slot that holds a live block (the marker, with the world stopped).
void guard_pool_for_each_live(void (*visit)(GuardSlot* slot, void* context), void* context);

void guard_pool_lock_for_fork();
void guard_pool_unlock_after_fork(bool in_child);

}  // namespace tally
