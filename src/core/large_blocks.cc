// Large blocks. One lock guards the cache, the live list and the descriptor free list;
// every path through it also makes a system call, which costs more than the lock.
#include "core/large_blocks.h"

#include <errno.h>
#include <string.h>

#include "core/metadata_arena.h"
#include "core/registry.h"
#include "os/memory.h"
#include "os/process.h"

namespace tally {
namespace {

constexpr unsigned kCacheLimit = 16;
constexpr size_t kCacheBytesLimit = size_t{256} << 20;

SpinLock g_lock;
LargeBlock* g_cache = nullptr;  // most recently freed first
unsigned g_cache_count = 0;
size_t g_cache_bytes = 0;
LargeBlock* g_spare_descriptors = nullptr;
LargeBlock* g_live = nullptr;
size_t g_live_count = 0;
size_t g_live_bytes = 0;
size_t g_peak_bytes = 0;

size_t round_to_os_pages(size_t size) { return (size + kOsPageSize - 1) & ~(kOsPageSize - 1); }

uintptr_t registry_value(LargeBlock* block) {
  return reinterpret_cast<uintptr_t>(block) | kRegistryLarge;
}

void live_insert_locked(LargeBlock* block) {
  block->previous = nullptr;
  block->next = g_live;
  if (g_live) g_live->previous = block;
  g_live = block;
  ++g_live_count;
  g_live_bytes += block->usable_size;
  if (g_live_bytes > g_peak_bytes) g_peak_bytes = g_live_bytes;
}

void live_remove_locked(LargeBlock* block) {
  if (block->previous)
    block->previous->next = block->next;
  else
    g_live = block->next;
  if (block->next) block->next->previous = block->previous;
  --g_live_count;
  g_live_bytes -= block->usable_size;
}

// Unmaps a block that is no longer live or cached; its descriptor goes to the spare list.
void retire_locked(LargeBlock* block) {
  registry_set(block->base, block->mapped_size, 0);
  os_unmap(reinterpret_cast<void*>(block->base), block->mapped_size);
  g_bytes_mapped.fetch_sub(block->mapped_size, std::memory_order_relaxed);
  block->state.store(LargeState::kRetired, std::memory_order_release);
  block->next = g_spare_descriptors;
  g_spare_descriptors = block;
}

// A cached mapping of at least `size` bytes wasting at most half of it, or nullptr.
LargeBlock* take_from_cache_locked(size_t size) {
  LargeBlock* previous = nullptr;
  for (LargeBlock* block = g_cache; block; previous = block, block = block->next) {
    if (block->mapped_size >= size && block->mapped_size / 2 <= size) {
      (previous ? previous->next : g_cache) = block->next;
      --g_cache_count;
      g_cache_bytes -= block->mapped_size;
      return block;
    }
  }
  return nullptr;
}

}  // namespace

void* large_allocate(size_t size, size_t alignment) {
  if (size > kMaxRequest || alignment > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t mapped_size = round_to_os_pages(size == 0 ? 1 : size);
  if (alignment <= kSegmentSize) {
    LargeBlock* block;
    {
      LockGuard guard(g_lock);
      block = take_from_cache_locked(mapped_size);
      if (block) {
        block->usable_size = block->mapped_size;
        block->state.store(LargeState::kLive, std::memory_order_release);
        live_insert_locked(block);
      }
    }
    // Cached mappings were decommitted when they were cached, so they read as zero.
    if (block) return reinterpret_cast<void*>(block->base);
  }
  // Mappings start on a registry slot so no two tally mappings share a slot.
  size_t map_alignment = alignment > kSegmentSize ? alignment : kSegmentSize;
  void* memory = os_map_aligned(mapped_size, map_alignment);
  if (!memory || !registry_initialize()) {
    if (memory) os_unmap(memory, mapped_size);
    errno = ENOMEM;
    return nullptr;
  }
  LargeBlock* block;
  {
    LockGuard guard(g_lock);
    block = g_spare_descriptors;
    if (block) g_spare_descriptors = block->next;
  }
  if (!block) block = static_cast<LargeBlock*>(metadata_allocate(sizeof(LargeBlock)));
  if (!block) {
    os_unmap(memory, mapped_size);
    errno = ENOMEM;
    return nullptr;
  }
  block->base = reinterpret_cast<uintptr_t>(memory);
  block->mapped_size = mapped_size;
  block->usable_size = mapped_size;
  block->state.store(LargeState::kLive, std::memory_order_release);
  g_bytes_mapped.fetch_add(mapped_size, std::memory_order_relaxed);
  {
    LockGuard guard(g_lock);
    live_insert_locked(block);
  }
  registry_set(block->base, mapped_size, registry_value(block));
  return memory;
}

FreeOutcome large_free(LargeBlock* block, uintptr_t address) {
  if (address != block->base) return FreeOutcome::kNotAllocated;
  LargeState expected = LargeState::kLive;
  if (!block->state.compare_exchange_strong(expected, LargeState::kCached,
                                            std::memory_order_acq_rel)) {
    return expected == LargeState::kCached ? FreeOutcome::kDoubleFree : FreeOutcome::kNotAllocated;
  }
  os_decommit(reinterpret_cast<void*>(block->base), block->mapped_size);
  LockGuard guard(g_lock);
  live_remove_locked(block);
  block->next = g_cache;
  g_cache = block;
  ++g_cache_count;
  g_cache_bytes += block->mapped_size;
  while (g_cache_count > kCacheLimit || g_cache_bytes > kCacheBytesLimit) {
    // Evict the oldest entry: the tail of the list.
    LargeBlock* previous = nullptr;
    LargeBlock* oldest = g_cache;
    while (oldest->next) previous = oldest, oldest = oldest->next;
    (previous ? previous->next : g_cache) = nullptr;
    --g_cache_count;
    g_cache_bytes -= oldest->mapped_size;
    retire_locked(oldest);
  }
  return FreeOutcome::kFreed;
}

void* large_reallocate(LargeBlock* block, size_t new_size) {
  size_t new_mapped = round_to_os_pages(new_size == 0 ? 1 : new_size);
  size_t old_mapped = block->mapped_size;
  if (new_mapped <= old_mapped) {
    // Shrinking: give the tail back when it is worth a system call.
    if (old_mapped - new_mapped >= (size_t{1} << 20)) {
      os_unmap(reinterpret_cast<void*>(block->base + new_mapped), old_mapped - new_mapped);
      g_bytes_mapped.fetch_sub(old_mapped - new_mapped, std::memory_order_relaxed);
      LockGuard guard(g_lock);
      g_live_bytes -= old_mapped - new_mapped;
      block->mapped_size = block->usable_size = new_mapped;
      // Slots past the new end are no longer ours.
      uintptr_t new_end_slot = (block->base + new_mapped - 1) >> kSegmentShift;
      uintptr_t old_end_slot = (block->base + old_mapped - 1) >> kSegmentShift;
      if (old_end_slot > new_end_slot)
        registry_set((new_end_slot + 1) << kSegmentShift, (old_end_slot - new_end_slot) << kSegmentShift, 0);
    }
    return reinterpret_cast<void*>(block->base);
  }
  // Growing: grow the mapping where it is; else move its pages (no copy) to a fresh
  // slot-aligned reservation. The growth is geometric so a loop of small reallocs
  // costs amortized O(1) system calls.
  size_t target = new_mapped;
  if (target < old_mapped + old_mapped / 2) target = round_to_os_pages(old_mapped + old_mapped / 2);
  if (target < new_mapped) target = new_mapped;
  void* old_memory = reinterpret_cast<void*>(block->base);
  uintptr_t new_base = 0;
  // In place only if the growth stays inside slots no other tally mapping can hold.
  if (os_grow_in_place(old_memory, old_mapped, target)) {
    new_base = block->base;
  } else {
    void* reservation = os_map_aligned(target, kSegmentSize);
    if (!reservation) {
      errno = ENOMEM;
      return nullptr;
    }
    if (!os_move_mapping(old_memory, old_mapped, reservation, target)) {
      os_unmap(reservation, target);
      errno = ENOMEM;
      return nullptr;
    }
    new_base = reinterpret_cast<uintptr_t>(reservation);
  }
  g_bytes_mapped.fetch_add(target - old_mapped, std::memory_order_relaxed);
  {
    LockGuard guard(g_lock);
    g_live_bytes += target - old_mapped;
    if (new_base != block->base) registry_set(block->base, old_mapped, 0);
    block->base = new_base;
    block->mapped_size = block->usable_size = target;
  }
  registry_set(new_base, target, registry_value(block));
  return reinterpret_cast<void*>(new_base);
}

void large_trim_cache() {
  LockGuard guard(g_lock);
  while (LargeBlock* block = g_cache) {
    g_cache = block->next;
    retire_locked(block);
  }
  g_cache_count = 0;
  g_cache_bytes = 0;
}

size_t large_live_count() { return g_live_count; }
size_t large_live_bytes() { return g_live_bytes; }
size_t large_peak_bytes() { return g_peak_bytes; }

void large_lock_for_fork() { g_lock.lock(); }
void large_unlock_after_fork(bool in_child) {
  if (in_child)
    g_lock.reset();
  else
    g_lock.unlock();
}

}  // namespace tally
