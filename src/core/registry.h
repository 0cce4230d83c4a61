// The registry: one word per 4 MiB slot of the 47-bit address space says whether tally
// owns that slot and what is there. It is what makes any address checkable in O(1)
// without touching memory tally does not own: free, malloc_usable_size and (later) the
// marker consult it before they read a segment header.
//
// An entry is 0 (not tally's), kRegistrySegment (a segment of small blocks starts at the
// slot), a LargeBlock* with kRegistryLarge set (the slot is covered by that block's
// mapping), or kRegistryGuarded (the slot is part of the guard-page pool). The table is a lazily
// touched reservation of kRegistryEntries words.
#pragma once

#include <atomic>

#include "core/config.h"

namespace tally {

constexpr uintptr_t kRegistrySegment = 1;
constexpr uintptr_t kRegistryLarge = 2;
constexpr uintptr_t kRegistryGuarded = 3;  // the guard-page pool (safety/guard_pool.h)
constexpr uintptr_t kRegistryKindMask = 3;

extern std::atomic<uintptr_t>* g_registry;

// Reserves the table; idempotent and safe to race. False only if the kernel refuses.
bool registry_initialize();

TALLY_INLINE uintptr_t registry_lookup(uintptr_t address) {
  std::atomic<uintptr_t>* table = g_registry;
  if (TALLY_UNLIKELY((address >> kAddressBits) != 0 || table == nullptr)) return 0;
  return table[address >> kSegmentShift].load(std::memory_order_acquire);
}

// Sets the entries of every slot that [start, start + size) touches to `value`.
// start must be slot aligned.
void registry_set(uintptr_t start, size_t size, uintptr_t value);

}  // namespace tally
