// The registry: one word per 4 MiB slot of the 47-bit address space says whether tally
// owns that slot and what is there. It is what makes any address checkable in O(1)
// without touching memory tally does not own: free, malloc_usable_size and (later) the
// marker consult it before they read a segment header.
//
// An entry is 0 (not tally's), kRegistrySegment (a segment of small blocks starts at the
// slot), a LargeBlock* with kRegistryLarge set (the slot is covered by that block's
// mapping), or kRegistryGuarded (the slot is part of the guard-page pool).
//
// The table has two levels: a static top of 1024 words, each naming a leaf of 32768 entries
// (256 KiB, covering 128 GiB of address space) mapped when a range in it is first
// registered. One flat table of kRegistryEntries words was a 256 MiB reservation in every
// process, charged in full to the commit limit where the kernel does not overcommit
// (vm.overcommit_memory=2, which database servers use) and more than a whole RLIMIT_AS of
// 200 MB allows, where python under tally could not start. The top is read on every lookup
// and stays in the first level of cache; the cost is one load.
#pragma once

#include <atomic>

#include "core/config.h"

namespace tally {

constexpr uintptr_t kRegistrySegment = 1;
constexpr uintptr_t kRegistryLarge = 2;
constexpr uintptr_t kRegistryGuarded = 3;  // the guard-page pool (safety/guard_pool.h)
constexpr uintptr_t kRegistryKindMask = 3;

constexpr unsigned kRegistryLeafBits = 15;
constexpr size_t kRegistryLeafEntries = size_t{1} << kRegistryLeafBits;
constexpr size_t kRegistryLeaves = kRegistryEntries / kRegistryLeafEntries;

extern std::atomic<std::atomic<uintptr_t>*> g_registry_leaves[kRegistryLeaves];

// Maps the leaves that the slots of [start, start + size) need, so that registry_set can
// name them; idempotent and safe to race. False only if the kernel refuses.
bool registry_prepare(uintptr_t start, size_t size);

TALLY_INLINE uintptr_t registry_lookup(uintptr_t address) {
  if (TALLY_UNLIKELY((address >> kAddressBits) != 0)) return 0;
  uintptr_t slot = address >> kSegmentShift;
  std::atomic<uintptr_t>* leaf =
      g_registry_leaves[slot >> kRegistryLeafBits].load(std::memory_order_acquire);
  if (TALLY_UNLIKELY(leaf == nullptr)) return 0;
  return leaf[slot & (kRegistryLeafEntries - 1)].load(std::memory_order_acquire);
}

// Sets the entries of every slot that [start, start + size) touches to `value`.
// start must be slot aligned, and the range prepared (registry_prepare) unless `value` is 0.
void registry_set(uintptr_t start, size_t size, uintptr_t value);

// Clears the entries of [start, start + size) that still hold `value`. For slots given
// back to the kernel before they could be cleared (the old range of a mapping that mremap
// moved): another thread's mapping may have taken them meanwhile and registered itself,
// and a plain clear would unregister it (its blocks' frees would then be bad frees).
void registry_clear_if(uintptr_t start, size_t size, uintptr_t value);

}  // namespace tally
