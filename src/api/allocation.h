// The allocation entry points, shared by the tally_ API and the malloc/new overrides.
// The hot paths (allocate, deallocate) are inline here; everything else is in
// allocation.cc. `caller` is the return address into the program, used only by reports.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "api/checked_allocation.h"
#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/registry.h"
#include "core/segment.h"
#include "core/size_classes.h"
#include "report/error_report.h"

namespace tally {

void* allocate_slow(size_t size, ApiCall call);
// Reports a free of `address`, which the books do not show as a live block.
void report_bad_pointer(uintptr_t address, uintptr_t caller);

// What the inline part of a free did: everything, nothing yet (the slow path takes over),
// or found a bad free of a local block (reported by the slow path, books unchanged).
enum class FastFree : uint8_t { kDone, kSlowPath, kDoubleFree, kNotAllocated };
// Finishes a free the inline part did not; `caller` is read only here, so the inline
// part needs no stack frame. `deleted_size` is the size a sized operator delete was given
// (0: not a sized delete), checked against the allocation's in debug mode.
void deallocate_slow(void* pointer, FastFree fast, ApiCall call, uintptr_t caller,
                     size_t deleted_size = 0);

void* allocate_zeroed(size_t count, size_t size);
// A block the marker never scans (tally_malloc_atomic): it may hold no pointers to blocks.
void* allocate_no_scan(size_t size);
void* allocate_aligned(size_t alignment, size_t size, ApiCall call);
void* reallocate(void* pointer, size_t size, ApiCall call, uintptr_t caller);
int allocate_posix_aligned(void** result, size_t alignment, size_t size);
void* allocate_aligned_c11(size_t alignment, size_t size);
void* allocate_memalign(size_t alignment, size_t size, ApiCall call);
void* allocate_page_aligned(size_t size, bool round_size, ApiCall call);
size_t usable_size(const void* pointer);

// The dynamic loader's code. What ld.so allocates (the TLS vectors and dynamic TLS blocks
// of threads, link maps) it reaches only through its private lists and the stacks glibc
// caches for exited threads, which the leak check cannot see; so its blocks count as
// reachable, as in LeakSanitizer. The range is set at start-up (empty until then).
extern uintptr_t g_loader_code_start;
extern uintptr_t g_loader_code_size;
TALLY_INLINE bool called_from_loader(uintptr_t caller) {
  return caller - g_loader_code_start < g_loader_code_size;
}
// The loader's malloc, calloc and realloc: the block is marked as one the leak check never
// reports.
void* allocate_for_loader(size_t size);
void* allocate_zeroed_for_loader(size_t count, size_t size);
void* reallocate_for_loader(void* pointer, size_t size, uintptr_t caller);

TALLY_INLINE void* allocate(size_t size, ApiCall call) {
  Heap* heap = t_heap;
  if (TALLY_LIKELY(heap != nullptr && size <= kMaxSmallSize)) {
    if (TALLY_UNLIKELY(heap->checked)) return allocate_checked_small(heap, size, call);
    ++heap->api_calls[call];
    return heap_allocate(heap, size_class_of(size));
  }
  return allocate_slow(size, call);
}

// The inline part of every free: a block of a page the calling thread owns.
TALLY_INLINE FastFree deallocate_fast(void* pointer, ApiCall call) {
  uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  Heap* heap = t_heap;
  if (TALLY_UNLIKELY(registry_lookup(address) != kRegistrySegment || heap == nullptr ||
                     heap->checked))
    return FastFree::kSlowPath;
  Page* page = page_of(segment_of(address), address);
  if (TALLY_UNLIKELY(page->heap != heap || page->has_ignored)) return FastFree::kSlowPath;
  ++heap->api_calls[call];
#ifndef TALLY_NO_FREE_VALIDATION
  uint32_t index = block_index_of(page, address);
  if (TALLY_UNLIKELY(index == UINT32_MAX)) return FastFree::kNotAllocated;
#else
  uint32_t index =
      static_cast<uint32_t>(((address - page->start) * page->reciprocal) >> kReciprocalShift);
#endif
  FreeOutcome outcome = heap_free_local(heap, page, index);
  if (TALLY_LIKELY(outcome == FreeOutcome::kFreed)) return FastFree::kDone;
  return outcome == FreeOutcome::kDoubleFree ? FastFree::kDoubleFree : FastFree::kNotAllocated;
}

// The whole free, for callers inside the runtime (realloc). Entry points use
// TALLY_DEALLOCATE so that `caller` is only read on the slow path.
TALLY_INLINE void deallocate(void* pointer, ApiCall call, uintptr_t caller) {
  FastFree fast = deallocate_fast(pointer, call);
  if (TALLY_UNLIKELY(fast != FastFree::kDone)) deallocate_slow(pointer, fast, call, caller);
}

#define TALLY_DEALLOCATE(pointer, call)                                                   \
  do {                                                                                    \
    ::tally::FastFree fast_free = ::tally::deallocate_fast(pointer, call);                \
    if (TALLY_UNLIKELY(fast_free != ::tally::FastFree::kDone))                            \
      ::tally::deallocate_slow(pointer, fast_free, call,                                  \
                               reinterpret_cast<uintptr_t>(__builtin_return_address(0))); \
  } while (0)

// A sized operator delete: the size reaches the slow path only (the checked modes).
#define TALLY_DEALLOCATE_SIZED(pointer, call, size)                                             \
  do {                                                                                          \
    ::tally::FastFree fast_free = ::tally::deallocate_fast(pointer, call);                      \
    if (TALLY_UNLIKELY(fast_free != ::tally::FastFree::kDone))                                  \
      ::tally::deallocate_slow(pointer, fast_free, call,                                        \
                               reinterpret_cast<uintptr_t>(__builtin_return_address(0)), size); \
  } while (0)

}  // namespace tally
