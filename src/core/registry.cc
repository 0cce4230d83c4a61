// The registry table. Writers are the slow paths that map and unmap segments and large
// blocks; readers are every free. Entries are published with release stores after the
// memory they describe is initialized.
#include "core/registry.h"

#include "os/memory.h"

namespace tally {

std::atomic<uintptr_t>* g_registry = nullptr;

bool registry_initialize() {
  if (__atomic_load_n(&g_registry, __ATOMIC_ACQUIRE)) return true;
  void* table = os_map(kRegistryEntries * sizeof(uintptr_t));
  if (!table) return false;
  std::atomic<uintptr_t>* expected = nullptr;
  if (!__atomic_compare_exchange_n(&g_registry, &expected,
                                   static_cast<std::atomic<uintptr_t>*>(table), false,
                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    os_unmap(table, kRegistryEntries * sizeof(uintptr_t));
  }
  return true;
}

void registry_set(uintptr_t start, size_t size, uintptr_t value) {
  uintptr_t first = start >> kSegmentShift;
  uintptr_t last = (start + size - 1) >> kSegmentShift;
  for (uintptr_t slot = first; slot <= last; ++slot)
    g_registry[slot].store(value, std::memory_order_release);
}

}  // namespace tally
