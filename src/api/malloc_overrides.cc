// The C library's allocation API, replaced. Linked into libtally.so (for LD_PRELOAD or
// -ltally) and libtally.a; never into the unit-test build, which uses the tally_ names.
// glibc's introspection calls answer from tally's books.
#include <errno.h>
#include <malloc.h>
#include <stdio.h>

#include "api/allocation.h"
#include "api/statistics.h"
#include "core/large_blocks.h"
#include "tally.h"

using namespace tally;

#define TALLY_CALLER reinterpret_cast<uintptr_t>(__builtin_return_address(0))

extern "C" {

// malloc, calloc and realloc are what the dynamic loader calls; a block it allocates is
// marked for the leak check (see called_from_loader) on the way out.
TALLY_EXPORT void* malloc(size_t size) {
  if (TALLY_UNLIKELY(called_from_loader(TALLY_CALLER))) return allocate_for_loader(size);
  return allocate(size, kCallMalloc);
}
TALLY_EXPORT void free(void* pointer) {
  TALLY_DEALLOCATE(pointer, kCallFree);
}
TALLY_EXPORT void cfree(void* pointer) {
  TALLY_DEALLOCATE(pointer, kCallFree);
}
// C23's sized frees (glibc 2.40 has them; a program built against it calls them, and a
// block of ours reaching glibc's free_sized would corrupt its heap). The size and alignment
// only promise what the block is: tally's books know that already, so they are not needed.
TALLY_EXPORT void free_sized(void* pointer, size_t) {
  TALLY_DEALLOCATE(pointer, kCallFree);
}
TALLY_EXPORT void free_aligned_sized(void* pointer, size_t, size_t) {
  TALLY_DEALLOCATE(pointer, kCallFree);
}
TALLY_EXPORT void* calloc(size_t count, size_t size) {
  if (TALLY_UNLIKELY(called_from_loader(TALLY_CALLER)))
    return allocate_zeroed_for_loader(count, size);
  return allocate_zeroed(count, size);
}
TALLY_EXPORT void* realloc(void* pointer, size_t size) {
  if (TALLY_UNLIKELY(called_from_loader(TALLY_CALLER)))
    return reallocate_for_loader(pointer, size, TALLY_CALLER);
  return reallocate(pointer, size, kCallRealloc, TALLY_CALLER);
}
TALLY_EXPORT void* reallocarray(void* pointer, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return reallocate(pointer, total, kCallReallocArray, TALLY_CALLER);
}
TALLY_EXPORT int posix_memalign(void** result, size_t alignment, size_t size) {
  return allocate_posix_aligned(result, alignment, size);
}
TALLY_EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  return allocate_aligned_c11(alignment, size);
}
TALLY_EXPORT void* memalign(size_t alignment, size_t size) {
  return allocate_memalign(alignment, size, kCallMemalign);
}
TALLY_EXPORT void* valloc(size_t size) {
  return allocate_page_aligned(size, false, kCallValloc);
}
TALLY_EXPORT void* pvalloc(size_t size) {
  return allocate_page_aligned(size, true, kCallPvalloc);
}
// glibc exports its allocator under its own names too, and some programs and preloaded
// libraries call those directly: a block from glibc's heap freed here would be reported as
// a bad free, and one of ours freed there would corrupt glibc's heap. They are tally's too.
TALLY_EXPORT void* __libc_malloc(size_t size) {
  return allocate(size, kCallMalloc);
}
TALLY_EXPORT void __libc_free(void* pointer) {
  TALLY_DEALLOCATE(pointer, kCallFree);
}
TALLY_EXPORT void* __libc_calloc(size_t count, size_t size) {
  return allocate_zeroed(count, size);
}
TALLY_EXPORT void* __libc_realloc(void* pointer, size_t size) {
  return reallocate(pointer, size, kCallRealloc, TALLY_CALLER);
}
TALLY_EXPORT void* __libc_memalign(size_t alignment, size_t size) {
  return allocate_memalign(alignment, size, kCallMemalign);
}
TALLY_EXPORT void* __libc_valloc(size_t size) {
  return allocate_page_aligned(size, false, kCallValloc);
}
TALLY_EXPORT void* __libc_pvalloc(size_t size) {
  return allocate_page_aligned(size, true, kCallPvalloc);
}

TALLY_EXPORT size_t malloc_usable_size(void* pointer) {
  return usable_size(pointer);
}

TALLY_EXPORT struct mallinfo2 mallinfo2(void) {
  tally_stats stats;
  statistics_collect(&stats);
  struct mallinfo2 info = {};
  info.arena = stats.bytes_mapped;
  info.hblks = stats.large_blocks;
  info.uordblks = stats.bytes_live;
  info.fordblks =
      stats.bytes_committed > stats.bytes_live ? stats.bytes_committed - stats.bytes_live : 0;
  info.usmblks = stats.bytes_live_peak;
  return info;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TALLY_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 wide = mallinfo2();
  struct mallinfo info = {};
  info.arena = static_cast<int>(wide.arena);
  info.hblks = static_cast<int>(wide.hblks);
  info.uordblks = static_cast<int>(wide.uordblks);
  info.fordblks = static_cast<int>(wide.fordblks);
  info.usmblks = static_cast<int>(wide.usmblks);
  return info;
}
#pragma GCC diagnostic pop

TALLY_EXPORT int malloc_trim(size_t) {
  return tally_trim();
}
TALLY_EXPORT void malloc_stats(void) {
  statistics_print();
}
// glibc's XML description of its heap, in its elements, from tally's books: one heap;
// "rest" is the committed memory no live block uses (tally has no fastbins and keeps no
// count of free chunks, so its count is 0); "mmap" the large blocks, each its own mapping;
// the "max" of the memory held is its peak (tally_stats' bytes_live_peak follows the
// committed pages' peak too). Two totals of tally's own follow: the live and the
// quarantined bytes. glibc answers a bad call with EINVAL, errno untouched.
TALLY_EXPORT int malloc_info(int options, FILE* stream) {
  if (options != 0 || stream == nullptr) return EINVAL;
  tally_stats stats;
  statistics_collect(&stats);
  size_t spare =
      stats.bytes_committed > stats.bytes_live ? stats.bytes_committed - stats.bytes_live : 0;
  size_t held_peak =
      stats.bytes_committed > stats.bytes_live_peak ? stats.bytes_committed : stats.bytes_live_peak;
  size_t address_space =
      stats.bytes_mapped > stats.bytes_committed ? stats.bytes_mapped : stats.bytes_committed;
  char system[256];
  snprintf(system, sizeof system,
           "<system type=\"current\" size=\"%zu\"/>\n"
           "<system type=\"max\" size=\"%zu\"/>\n"
           "<aspace type=\"total\" size=\"%zu\"/>\n"
           "<aspace type=\"mprotect\" size=\"%zu\"/>\n",
           stats.bytes_committed, held_peak, address_space, stats.bytes_committed);
  fprintf(stream,
          "<malloc version=\"1\">\n"
          "<heap nr=\"0\">\n"
          "<sizes>\n"
          "</sizes>\n"
          "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
          "%s"
          "</heap>\n"
          "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
          "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"live\" size=\"%zu\"/>\n"
          "<total type=\"quarantined\" size=\"%zu\"/>\n"
          "%s"
          "</malloc>\n",
          spare, system, spare, stats.large_blocks, large_live_bytes(), stats.bytes_live,
          stats.bytes_quarantined, system);
  return 0;
}
TALLY_EXPORT int mallopt(int, int) {
  return 1;
}  // glibc tunables have no meaning here

}  // extern "C"
