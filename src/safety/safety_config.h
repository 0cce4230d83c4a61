// Which safety layers are on, decided once at start-up from the mode and the options.
// Each flag names a mitigation and what it defends (practice 6 of STYLE.md); tests turn
// them on and off through options.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

struct SafetyConfig {
  bool checked;     // any layer below is on: frees and allocations take the checked paths
  bool quarantine;  // freed blocks are held back, so a dangling pointer does not reach a new owner
  bool poison;      // quarantined blocks are filled and verified: catches writes after free
  size_t poison_max_bytes;  // of each block (the rest stays as the program left it)
  // Of a large block that is not made inaccessible instead (protect_large off, or refused by
  // the time budget). Its pages are often not resident: poisoning all of them faults each
  // in, which cost more than the protection it replaces.
  size_t large_poison_max_bytes;
  // Quarantined large blocks are inaccessible (catches reads after free too, at the price of
  // two mprotect calls and a refault of every page: on a virtual machine with shadow page
  // tables that made safe mode 8x slower than fast mode on mstress). Otherwise poisoned.
  bool protect_large;
  bool canaries;  // slack after the requested size is filled and verified: catches overflows
  // Every block gets at least a byte of slack (the next size class when its size fills one):
  // without it a 64-byte array written one element too far overflows into its neighbour
  // unseen, the commonest heap overflow there is.
  bool canary_slack;
  bool canaries_at_exit;          // and verified in every block still live at exit
  bool alloc_dealloc_mismatch;    // malloc/delete, new/free, new[]/delete are reported
  bool new_delete_type_mismatch;  // a sized delete's size must be the size new was given
  bool realloc_moves;    // every realloc moves the block, so stale pointers reach quarantine
  bool alloc_stacks;     // every allocation records its stack
  bool free_stacks;      // every free records its stack
  bool guard_all;        // every block up to guard_max_size sits before a guard page
  uint32_t sample_rate;  // otherwise one allocation in sample_rate is guarded (0: none)
  // guard_all: a thread's guarded allocations per second (a token bucket; 0: no limit). Each
  // guarded allocation and free costs two mprotect calls, microseconds each.
  uint32_t guard_rate;
  // Guarded allocations pause while the process's mprotect calls have taken more than this
  // share of its time lately (guard_pool.cc; 0: no limit). With several threads each call
  // costs more (the kernel's map lock, a TLB flush on every processor the process runs on).
  uint32_t guard_time_percent;
  size_t guard_max_size;
  size_t guard_pool_slots;  // bounds the guarded blocks alive at once, and their mappings
  bool guard_markers;       // guard pages are kernel guard markers where it has them
  bool guard_left;          // guard page before the block instead of after it
  // A right-flush guarded block from malloc is aligned to its size's largest power-of-two
  // divisor, at most 16, so that it ends at its guard page, and at least to this (0: to
  // what the C standard asks, 16 for 16 bytes or more: a 100-byte block then ends 12 bytes
  // short of its guard page and a read of byte 100 goes unseen).
  size_t guard_min_alignment;
  // Small allocations may take allocate_checked_small's lane: no allocation stack to record,
  // no guard on every block (safe mode's defaults).
  bool lean_small_allocation;
  // The global bound of the quarantine is the live heap divided by this, within the two
  // bytes bounds (equal when the bound is fixed).
  size_t quarantine_live_divisor;
  size_t quarantine_min_bytes;
  size_t quarantine_max_bytes;
  size_t thread_quarantine_bytes;  // a thread's batch spills to the global FIFO past this
  int stack_depth;                 // frames kept per stack
};

extern SafetyConfig g_safety;

// The fill patterns. Neither, read as a 64-bit word, is a canonical address, so stale
// data in freed memory and slack never looks like a pointer to the marker.
constexpr uint8_t kPoisonByte = 0xDF;
constexpr uint8_t kCanaryByte = 0xCB;
// Canaries cover at most this much slack: overflows are caught near the end of a block.
constexpr size_t kMaxCanaryBytes = 256;

}  // namespace tally
