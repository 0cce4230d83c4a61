// The allocation entry points off the hot path: first calls of a thread, large and aligned
// blocks, realloc, and the checks that turn a bad pointer into a report instead of damage.
#include "api/allocation.h"

#include <errno.h>
#include <string.h>

#include "api/block_lookup.h"
#include "api/checked_allocation.h"
#include "api/runtime.h"
#include "mark/marker.h"
#include "safety/safety_config.h"

namespace tally {

TALLY_COLD void report_bad_pointer(uintptr_t address, uintptr_t caller) {
  BlockLookup lookup = lookup_block(address);
  if (lookup.kind == BlockLookup::kFreed) {
    if (lookup.record) return report_double_free_with_history(address, history_of(lookup), caller);
    return report_double_free(address, lookup.extent, caller);
  }
  if (lookup.kind == BlockLookup::kInterior && lookup.record)
    return report_invalid_free_with_history(address, history_of(lookup), caller);
  report_invalid_free(
      address, lookup.kind == BlockLookup::kInterior ? lookup.extent : BlockExtent{0, 0}, caller);
}

namespace {

Heap* current_heap() {
  Heap* heap = t_heap;
  if (TALLY_LIKELY(heap)) return heap;
  runtime_ensure_initialized();
  return heap_acquire_for_thread();
}

size_t round_up(size_t value, size_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace

void* allocate_slow(size_t size, ApiCall call) {
  Heap* heap = current_heap();
  if (TALLY_UNLIKELY(heap == nullptr)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (heap->checked) return allocate_checked(size, 0, call);
  ++heap->api_calls[call];
  if (size <= kMaxSmallSize) return heap_allocate(heap, size_class_of(size));
  if (size > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  return large_allocate(size, 0, false);
}

namespace {

TALLY_NOINLINE void deallocate_unchecked(void* pointer, FastFree fast, ApiCall call,
                                         uintptr_t caller) {
  uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  if (fast == FastFree::kDoubleFree) {
    Page* page = page_of(segment_of(address), address);
    return report_double_free(address, BlockExtent{address, page->block_size}, caller);
  }
  if (fast == FastFree::kNotAllocated) return report_bad_pointer(address, caller);
  Heap* heap = t_heap;
  if (heap) ++heap->api_calls[call];
  if (pointer == nullptr) return;
  uintptr_t entry = registry_lookup(address);
  if (entry == kRegistrySegment) {
    Page* page = page_of(segment_of(address), address);
    uint32_t index = block_index_of(page, address);
    if (index == UINT32_MAX) return report_bad_pointer(address, caller);
    FreeOutcome outcome;
    size_t block_size = page->block_size;
    // Before the free: once the block is free, a new owner may be told to ignore it.
    if (TALLY_UNLIKELY(page->has_ignored) && page_is_live(page, index))
      page_forget_ignored(page, index);
    if (heap && page->heap == heap) {
      outcome = heap_free_local(heap, page, index);
    } else {
      outcome = heap_free_remote(page, index);
    }
    if (outcome != FreeOutcome::kFreed)
      report_double_free(address, BlockExtent{address, block_size}, caller);
    return;
  }
  if ((entry & kRegistryKindMask) == kRegistryLarge) {
    FreeOutcome outcome = large_free(large_block_of_entry(entry), address);
    if (outcome == FreeOutcome::kFreed) return;
    if (outcome == FreeOutcome::kDoubleFree) {
      LargeBlock* block = large_block_of_entry(entry);
      return report_double_free(address, BlockExtent{address, block->usable_size}, caller);
    }
  }
  report_bad_pointer(address, caller);
}

}  // namespace

// The checked modes' frees come here on every call (the inline part leaves them all to
// the slow path, and finds no double free of its own in those modes): a jump, no frame.
void deallocate_slow(void* pointer, FastFree fast, ApiCall call, uintptr_t caller,
                     size_t deleted_size) {
  if (TALLY_LIKELY(fast == FastFree::kSlowPath) && g_safety.checked)
    return deallocate_checked(pointer, call, caller, deleted_size);
  deallocate_unchecked(pointer, fast, call, caller);
}

void* allocate_zeroed(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (g_safety.checked) return allocate_checked(total, 0, kCallCalloc);  // zeroes it
  if (total > kMaxSmallSize) {
    Heap* heap = t_heap;
    if (heap) ++heap->api_calls[kCallCalloc];
    if (total > kMaxRequest) {
      errno = ENOMEM;
      return nullptr;
    }
    return large_allocate(total, 0, true);  // zeroes only what the kernel has not
  }
  void* result = allocate(total, kCallCalloc);
  if (result) memset(result, 0, total);
  return result;
}

uintptr_t g_loader_code_start = 0;
uintptr_t g_loader_code_size = 0;

namespace {
void* note_loader_allocation(void* block) {
  if (block) marker_set_ignored(reinterpret_cast<uintptr_t>(block));
  return block;
}
}  // namespace

TALLY_NOINLINE void* allocate_for_loader(size_t size) {
  return note_loader_allocation(allocate(size, kCallMalloc));
}
TALLY_NOINLINE void* allocate_zeroed_for_loader(size_t count, size_t size) {
  return note_loader_allocation(allocate_zeroed(count, size));
}
TALLY_NOINLINE void* reallocate_for_loader(void* pointer, size_t size, uintptr_t caller) {
  return note_loader_allocation(reallocate(pointer, size, kCallRealloc, caller));
}

void* allocate_no_scan(size_t size) {
  if (g_safety.checked) return allocate_checked(size, 0, kCallMallocAtomic);
  Heap* heap = current_heap();
  if (TALLY_UNLIKELY(heap == nullptr || size > kMaxRequest)) {
    errno = ENOMEM;
    return nullptr;
  }
  ++heap->api_calls[kCallMallocAtomic];
  if (size <= kMaxSmallSize) return heap_allocate(heap, no_scan_class(size_class_of(size)));
  void* block = large_allocate(size, 0, false);
  if (block) marker_set_no_scan(reinterpret_cast<uintptr_t>(block));
  return block;
}

void* allocate_aligned(size_t alignment, size_t size, ApiCall call) {
  if (g_safety.checked) return allocate_checked(size, alignment, call);
  if (alignment <= kMaxAlignmentOfMalloc) return allocate(size, call);
  if (size > kMaxRequest || alignment > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  Heap* heap = current_heap();
  if (!heap) {
    errno = ENOMEM;
    return nullptr;
  }
  ++heap->api_calls[call];
  unsigned size_class = size_class_for_alignment(size, alignment);
  if (size_class < kClassCount) return heap_allocate(heap, size_class);
  return large_allocate(size, alignment, false);
}

int allocate_posix_aligned(void** result, size_t alignment, size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  int saved_errno = errno;
  void* memory = allocate_aligned(alignment, size, kCallPosixMemalign);
  if (!memory) {
    errno = saved_errno;
    return ENOMEM;
  }
  *result = memory;
  return 0;
}

void* allocate_aligned_c11(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return allocate_aligned(alignment, size, kCallAlignedAlloc);
}

void* allocate_memalign(size_t alignment, size_t size, ApiCall call) {
  // Like the C library: an alignment that is not a power of two is rounded up to one, and
  // only an alignment that cannot be rounded is invalid (anything else too big is ENOMEM).
  if (alignment > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (alignment & (alignment - 1)) alignment = size_t{1} << (64 - __builtin_clzll(alignment));
  return allocate_aligned(alignment, size, call);
}

void* allocate_page_aligned(size_t size, bool round_size, ApiCall call) {
  if (size > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  if (round_size) size = size == 0 ? kOsPageSize : round_up(size, kOsPageSize);
  return allocate_aligned(kOsPageSize, size, call);
}

void* reallocate(void* pointer, size_t size, ApiCall call, uintptr_t caller) {
  if (g_safety.checked) return reallocate_checked(pointer, size, call, caller);
  if (pointer == nullptr) return allocate(size, call);
  if (size == 0) {  // the C library's choice: free and return NULL
    deallocate(pointer, call, caller);
    return nullptr;
  }
  if (size > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  BlockLookup lookup = lookup_block(address);
  size_t old_size;
  if (lookup.kind == BlockLookup::kLive && lookup.where == BlockLookup::kSmall) {
    old_size = lookup.extent.size;
    if (size <= old_size && (size >= old_size / 2 || old_size <= 64)) return pointer;
  } else if (lookup.kind == BlockLookup::kLive && lookup.where == BlockLookup::kLarge) {
    old_size = lookup.large->usable_size;
    // When the kernel will not move the mapping (near vm.max_map_count, say), a copy may
    // still fit: fall through to it rather than fail a realloc that malloc could serve.
    if (size > kMaxSmallSize) {
      int saved_errno = errno;
      if (void* grown = large_reallocate(lookup.large, size)) return grown;
      errno = saved_errno;
    }
  } else {
    report_bad_pointer(address, caller);
    return nullptr;
  }
  void* fresh = allocate(size, call);
  if (!fresh) return nullptr;
  memcpy(fresh, pointer, size < old_size ? size : old_size);
  deallocate(pointer, kCallFree, caller);
  return fresh;
}

size_t usable_size(const void* pointer) {
  if (!pointer) return 0;
  BlockLookup lookup = lookup_block(reinterpret_cast<uintptr_t>(pointer));
  return lookup.kind == BlockLookup::kLive ? lookup.extent.size : 0;
}

}  // namespace tally
