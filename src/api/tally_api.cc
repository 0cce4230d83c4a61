// The tally_ API of include/tally.h: the C allocation API under tally's own names, for
// programs that link tally beside another malloc, plus statistics and trimming.
#include <errno.h>

#include "api/allocation.h"
#include "api/options.h"
#include "api/runtime.h"
#include "api/statistics.h"
#include "core/large_blocks.h"
#include "core/segment.h"
#include "mark/leak_check.h"
#include "mark/marker.h"
#include "mark/roots.h"
#include "safety/quarantine.h"
#include "safety/safety_config.h"
#include "tally.h"

using namespace tally;

#define TALLY_CALLER reinterpret_cast<uintptr_t>(__builtin_return_address(0))

extern "C" {

TALLY_EXPORT void* tally_malloc(size_t size) {
  return allocate(size, kCallMalloc);
}
TALLY_EXPORT void tally_free(void* pointer) {
  TALLY_DEALLOCATE(pointer, kCallFree);
}
TALLY_EXPORT void* tally_calloc(size_t count, size_t size) {
  return allocate_zeroed(count, size);
}
TALLY_EXPORT void* tally_realloc(void* pointer, size_t size) {
  return reallocate(pointer, size, kCallRealloc, TALLY_CALLER);
}
TALLY_EXPORT void* tally_reallocarray(void* pointer, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return reallocate(pointer, total, kCallReallocArray, TALLY_CALLER);
}
TALLY_EXPORT int tally_posix_memalign(void** result, size_t alignment, size_t size) {
  return allocate_posix_aligned(result, alignment, size);
}
TALLY_EXPORT void* tally_aligned_alloc(size_t alignment, size_t size) {
  return allocate_aligned_c11(alignment, size);
}
TALLY_EXPORT void* tally_memalign(size_t alignment, size_t size) {
  return allocate_memalign(alignment, size, kCallMemalign);
}
TALLY_EXPORT void* tally_valloc(size_t size) {
  return allocate_page_aligned(size, false, kCallValloc);
}
TALLY_EXPORT void* tally_pvalloc(size_t size) {
  return allocate_page_aligned(size, true, kCallPvalloc);
}
TALLY_EXPORT size_t tally_malloc_usable_size(const void* pointer) {
  return usable_size(pointer);
}

TALLY_EXPORT void tally_get_stats(struct tally_stats* out) {
  statistics_collect(out);
}
TALLY_EXPORT void tally_print_stats(void) {
  statistics_print();
}

TALLY_EXPORT const char* tally_mode(void) {
  runtime_ensure_initialized();
  return mode_name(g_options.mode);
}

TALLY_EXPORT size_t tally_check_leaks(void) {
  runtime_ensure_initialized();
  LeakCheckResult result = leak_check_run(runtime_leak_check_settings(), false);
  if (g_options.verbosity > 0) leak_check_print_last_mark();
  return result.leaked_bytes;
}

TALLY_EXPORT void tally_add_root(const void* start, size_t length) {
  roots_add(reinterpret_cast<uintptr_t>(start), length);
}

TALLY_EXPORT void tally_remove_root(const void* start) {
  roots_remove(reinterpret_cast<uintptr_t>(start));
}

TALLY_EXPORT void tally_ignore_leak(const void* block) {
  if (block) marker_set_ignored(reinterpret_cast<uintptr_t>(block));
}

TALLY_EXPORT void* tally_malloc_atomic(size_t size) {
  return allocate_no_scan(size);
}

TALLY_EXPORT int tally_trim(void) {
  if (g_safety.quarantine) quarantine_drain();
  if (Heap* heap = t_heap) heap_trim(heap);
  segment_trim_cache();
  large_trim_cache();
  return 1;
}

}  // extern "C"
