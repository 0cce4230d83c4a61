// The allocation entry points, shared by the tally_ API and the malloc/new overrides.
// The hot paths (allocate, deallocate) are inline here; everything else is in
// allocation.cc. `caller` is the return address into the program, used only by reports.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/registry.h"
#include "core/segment.h"
#include "core/size_classes.h"
#include "report/error_report.h"

namespace tally {

void* allocate_slow(size_t size, ApiCall call);
void deallocate_slow(void* pointer, uintptr_t registry_entry, ApiCall call, uintptr_t caller);
void report_bad_small_free(FreeOutcome outcome, Page* page, uintptr_t address, uintptr_t caller);

void* allocate_zeroed(size_t count, size_t size);
void* allocate_aligned(size_t alignment, size_t size, ApiCall call);
void* reallocate(void* pointer, size_t size, ApiCall call, uintptr_t caller);
int allocate_posix_aligned(void** result, size_t alignment, size_t size);
void* allocate_aligned_c11(size_t alignment, size_t size);
void* allocate_memalign(size_t alignment, size_t size, ApiCall call);
void* allocate_page_aligned(size_t size, bool round_size, ApiCall call);
size_t usable_size(const void* pointer);

TALLY_INLINE void* allocate(size_t size, ApiCall call) {
  Heap* heap = t_heap;
  if (TALLY_LIKELY(heap != nullptr && size <= kMaxSmallSize)) {
    ++heap->api_calls[call];
    return heap_allocate(heap, size_class_of(size));
  }
  return allocate_slow(size, call);
}

TALLY_INLINE void deallocate(void* pointer, ApiCall call, uintptr_t caller) {
  uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  uintptr_t entry = registry_lookup(address);
  Heap* heap = t_heap;
  if (TALLY_LIKELY(entry == kRegistrySegment && heap != nullptr)) {
    Page* page = page_of(segment_of(address), address);
    if (TALLY_LIKELY(page->heap == heap)) {
      ++heap->api_calls[call];
#ifndef TALLY_NO_FREE_VALIDATION
      uint32_t index = block_index_of(page, address);
      if (TALLY_UNLIKELY(index == UINT32_MAX)) {
        report_bad_small_free(FreeOutcome::kNotAllocated, page, address, caller);
        return;
      }
#else
      uint32_t index = static_cast<uint32_t>(((address - page->start) * page->reciprocal) >> kReciprocalShift);
#endif
      FreeOutcome outcome = heap_free_local(heap, page, index);
      if (TALLY_UNLIKELY(outcome != FreeOutcome::kFreed))
        report_bad_small_free(outcome, page, address, caller);
      return;
    }
  }
  deallocate_slow(pointer, entry, call, caller);
}

}  // namespace tally
