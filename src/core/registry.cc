// The registry table. Writers are the slow paths that map and unmap segments and large
// blocks; readers are every free. Entries are published with release stores after the
// memory they describe is initialized.
#include "core/registry.h"

#include "os/memory.h"

namespace tally {

std::atomic<std::atomic<uintptr_t>*> g_registry_leaves[kRegistryLeaves];

namespace {

constexpr size_t kLeafBytes = kRegistryLeafEntries * sizeof(uintptr_t);

bool prepare_leaf(size_t index) {
  if (g_registry_leaves[index].load(std::memory_order_acquire)) return true;
  auto* fresh = static_cast<std::atomic<uintptr_t>*>(os_map(kLeafBytes));
  if (!fresh) return false;
  std::atomic<uintptr_t>* expected = nullptr;
  if (!g_registry_leaves[index].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel,
                                                        std::memory_order_acquire))
    os_unmap(fresh, kLeafBytes);  // another thread mapped it first
  return true;
}

}  // namespace

bool registry_prepare(uintptr_t start, size_t size) {
  if (size == 0 || ((start + size - 1) >> kAddressBits) != 0) return false;
  size_t first = (start >> kSegmentShift) >> kRegistryLeafBits;
  size_t last = ((start + size - 1) >> kSegmentShift) >> kRegistryLeafBits;
  for (size_t index = first; index <= last; ++index)
    if (!prepare_leaf(index)) return false;
  return true;
}

namespace {

// Hands `visit` the entry of every slot that [start, start + size) touches. A slot whose leaf
// is not mapped holds no entry: it is skipped, unless `map_leaves` asks for the leaf.
template <typename Visit>
void for_each_entry(uintptr_t start, size_t size, bool map_leaves, Visit&& visit) {
  uintptr_t first = start >> kSegmentShift;
  uintptr_t last = (start + size - 1) >> kSegmentShift;
  for (uintptr_t slot = first; slot <= last; ++slot) {
    std::atomic<uintptr_t>* leaf =
        g_registry_leaves[slot >> kRegistryLeafBits].load(std::memory_order_acquire);
    if (!leaf) {
      if (!map_leaves || !prepare_leaf(slot >> kRegistryLeafBits)) continue;
      leaf = g_registry_leaves[slot >> kRegistryLeafBits].load(std::memory_order_acquire);
    }
    visit(leaf[slot & (kRegistryLeafEntries - 1)]);
  }
}

}  // namespace

void registry_set(uintptr_t start, size_t size, uintptr_t value) {
  // Clearing needs no leaf; setting maps the leaf if it was not prepared.
  for_each_entry(start, size, value != 0, [value](std::atomic<uintptr_t>& entry) {
    entry.store(value, std::memory_order_release);
  });
}

void registry_clear_if(uintptr_t start, size_t size, uintptr_t value) {
  for_each_entry(start, size, false, [value](std::atomic<uintptr_t>& entry) {
    uintptr_t expected = value;
    entry.compare_exchange_strong(expected, 0, std::memory_order_acq_rel,
                                  std::memory_order_acquire);
  });
}

}  // namespace tally
