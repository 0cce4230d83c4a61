// The conservative marker: from root ranges, every aligned word that passes the O(1)
// pointer test (heap range, segment table, page view, block index) marks the block it
// points into, and
// marked blocks are scanned in turn, with explicit mark stacks (no recursion), shared
// among as many workers as the machine has cores.
//
// Invariants and conditions:
//  - Runs with every other program thread stopped (mark/world.h) and every allocator lock
//    held by the caller, so the books cannot change under it; it takes no allocator lock
//    itself and allocates only with os_map.
//  - Roots may point anywhere inside a block. Words inside heap blocks count as pointers
//    into a block only at its start when interior_pointers is off.
//  - Blocks that cannot hold pointers (pages of tally_malloc_atomic, large blocks with the
//    no-scan flag) are marked but not scanned.
//  - A full mark stack drops the block from the stack, not the mark: the block is marked
//    and noted as unscanned, and passes over the heap then scan every marked block until a
//    pass finishes without overflow, so the result is the same with any stack size.
//  - Free, quarantined and cached blocks are never scanned or reported (their mark bytes are
//    set when the mark begins, so the pointer test takes them for marked already).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/block_record.h"

namespace tally {

struct MarkSettings {
  bool interior_pointers = true;
  int workers = 1;                  // threads that mark (the caller is one of them)
  size_t stack_entries = 1u << 16;  // per worker; tests make it tiny to force overflow
  // Tests: an idle worker sweeps slots alongside another's sweep without waiting until
  // their blocks are reached, which makes the races the sweep must survive common.
  bool sweep_unready_slots = false;
};

struct MarkStatistics {
  uint64_t root_ranges;
  uint64_t root_bytes;
  uint64_t bytes_scanned;  // roots and blocks
  uint64_t blocks_marked;
  uint64_t overflow_passes;  // heap passes that recovered from a full mark stack
  uint64_t segment_sweeps;   // segments swept in address order (a segment may be swept again)
  uint64_t shared_slots;     // slots a worker swept alongside another's sweep of their segment
  uint64_t passed_pending_blocks;  // left pending in a slot as another worker's sweep passed it
  uint64_t nanoseconds;
  int workers;
};

// A live block, as the leak check sees it.
struct MarkBlock {
  uintptr_t start;
  size_t span;                // bytes the block occupies (its class size, its pages)
  size_t requested_size;      // what the program asked for, when a record says; else span
  const BlockRecord* record;  // checked modes; nullptr otherwise
  bool marked;
  bool indirect;
  bool ignored;
  bool no_scan;
};

// Starts a mark: makes the books of every segment, clears every mark, notes the heap's
// address range. False if the books could not be made (out of memory).
bool marker_begin(const MarkSettings& settings);
// A root range, scanned with interior pointers allowed (clipped as below).
void marker_add_root(uintptr_t low, uintptr_t high);
// Code the program writes and runs (a JIT's code cache): besides its aligned words, which
// marker_add_root scans, its instructions hold pointers as immediates at any byte offset
// (the JVM's compiled inline caches load the addresses of blocks it malloc'd that way).
// The words at the other seven offsets that point into tally's memory are kept and
// scanned as a root of their own. Call between marker_begin and marker_run.
void marker_add_code_root(uintptr_t low, uintptr_t high);
// Clips a range of memory that may hold roots to what a scan may read: one that starts in
// tally's memory to the live block it starts in, any other to where tally's memory
// begins. False if nothing is left. Also outside a mark, with the world stopped.
bool marker_clip_root(uintptr_t* low, uintptr_t* high);
// The marker's own threads' TLS and descriptors (where glibc keeps what it allocated for
// them), as roots.
void marker_add_helper_roots();
// Every block with the ignored bit (tally_ignore_leak) is marked and scanned like a root.
void marker_add_ignored_blocks();
// The transitive mark from the roots and ignored blocks.
void marker_run(MarkStatistics* statistics);

// Leak classification, after marker_run.
//  - marker_flood_indirect: from the contents of every unmarked live block, sets the
//    indirect bit on every unmarked block they reach (transitively): those are leaked
//    blocks that another leaked block points to.
//  - marker_mark_from: marks `block` and everything unmarked it reaches (to settle cycles).
void marker_flood_indirect();
void marker_mark_from(const MarkBlock& block);
// Visits every live block that is not marked; `visit` may call marker_mark_from.
void marker_for_each_unmarked(void (*visit)(const MarkBlock& block, void* context), void* context);

// Visits every live block, outside a mark too. The caller holds the allocator's locks
// (runtime_before_fork) and has stopped the other threads, or accepts a racy view.
void marker_for_each_live(void (*visit)(const MarkBlock& block, void* context), void* context);
// Lists the parts of tally's segments and large blocks that cannot be read now (a program
// may mprotect a page-aligned block of its own), for marker_range_scannable; marker_begin
// does it for each mark. With the world stopped; false if the list ran out of memory.
bool marker_note_inaccessible();
// True unless [start, start + span) meets a range marker_note_inaccessible listed.
bool marker_range_scannable(uintptr_t start, size_t span);

// Tells whether `address` is the start of a live block and fills `block` (tests, API).
bool marker_find_block(uintptr_t address, MarkBlock* block);

// Marker threads are kept for later marks; the child of a fork has none.
void marker_after_fork_in_child();
// The marker's own threads (they must not be stopped): their thread ids.
int marker_helper_tids(int* tids, int capacity);
// Starts the helper threads a mark with `workers` workers needs, before the world stops.
void marker_prepare_helpers(int workers);

// Blocks and pages ignored by the leak check (tally_ignore_leak); false if `address` is
// not the start of a live block.
bool marker_set_ignored(uintptr_t address);
// Marks a just-allocated block as holding no pointers (large or guarded blocks; small
// ones come from no-scan pages).
void marker_set_no_scan(uintptr_t address);

}  // namespace tally
