// Thin wrappers over mmap/munmap/madvise/mremap. Callers round sizes to pages.
// Every wrapper keeps errno as it found it: the program sees only what its own call set.
#include "os/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"
#include "os/internal_mappings.h"
#include "os/process.h"

namespace tally {

namespace {

void* map_anonymous(size_t size, MapCharge charge) {
  int saved_errno = errno;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS;
  if (charge == MapCharge::kReserveOnly) flags |= MAP_NORESERVE;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  errno = saved_errno;
  return p == MAP_FAILED ? nullptr : p;
}

void unmap(void* address, size_t size) {
  int saved_errno = errno;
  munmap(address, size);
  errno = saved_errno;
}

}  // namespace

void* os_map(size_t size, MapCharge charge) {
  void* p = map_anonymous(size, charge);
  // The kernel maps whole pages: so does the list, or the rest of a last page would look
  // like the program's memory.
  if (p)
    internal_mappings_add(reinterpret_cast<uintptr_t>(p),
                          (size + kOsPageSize - 1) & ~(kOsPageSize - 1));
  return p;
}

void* os_map_aligned(size_t size, size_t alignment, MapCharge charge) {
  // Over-map by the alignment and trim both ends: two munmaps, but no retry loop.
  if (size + alignment < size) return nullptr;
  char* raw = static_cast<char*>(map_anonymous(size + alignment, charge));
  if (raw == nullptr) return nullptr;
  uintptr_t start = (reinterpret_cast<uintptr_t>(raw) + alignment - 1) & ~(alignment - 1);
  char* aligned = reinterpret_cast<char*>(start);
  size_t head = aligned - raw;
  size_t tail = alignment - head;
  if (head) unmap(raw, head);
  if (tail) unmap(aligned + size, tail);
  return aligned;
}

void os_unmap(void* address, size_t size) {
  internal_mappings_remove(reinterpret_cast<uintptr_t>(address));
  unmap(address, size);
}

// linux/mman.h, Linux 6.13.
constexpr int kMadviseGuardInstall = 102;
constexpr int kMadviseGuardRemove = 103;

bool os_guard_install(void* address, size_t size) {
  int saved_errno = errno;
  bool done = madvise(address, size, kMadviseGuardInstall) == 0;
  errno = saved_errno;
  return done;
}

bool os_guard_remove(void* address, size_t size) {
  int saved_errno = errno;
  bool done = madvise(address, size, kMadviseGuardRemove) == 0;
  errno = saved_errno;
  return done;
}

void os_populate(void* address, size_t size) {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // linux/mman.h, Linux 5.14
#endif
  int saved_errno = errno;
  madvise(address, size, MADV_POPULATE_WRITE);
  errno = saved_errno;
}

bool os_advise_huge_pages(void* address, size_t size) {
  int saved_errno = errno;
  bool done = madvise(address, size, MADV_HUGEPAGE) == 0;
  errno = saved_errno;
  return done;
}

void os_advise_small_pages(void* address, size_t size) {
  int saved_errno = errno;
  madvise(address, size, MADV_NOHUGEPAGE);
  errno = saved_errno;
}

bool os_decommit(void* address, size_t size) {
  int saved_errno = errno;
  bool dropped = madvise(address, size, MADV_DONTNEED) == 0;
  errno = saved_errno;
  return dropped;
}

bool os_resident_pages(const void* address, size_t size, uint8_t* resident) {
  if (!process_may_make_optional_calls()) return false;
  int saved_errno = errno;
  bool known = mincore(const_cast<void*>(address), size, resident) == 0;
  errno = saved_errno;
  return known;
}

bool os_move_mapping(void* old_address, size_t old_size, void* new_address, size_t new_size) {
  int saved_errno = errno;
  void* p = mremap(old_address, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, new_address);
  errno = saved_errno;
  return p == new_address;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

bool os_move_pages_leaving_range(void* old_address, size_t old_size, void* new_address,
                                 size_t new_size) {
  // Two moves: MREMAP_DONTUNMAP keeps the old range reserved (no other mapping can take
  // those addresses while stale pointers may still reach them) but cannot resize, and
  // moved pages do not merge with the mapping around their new place; so they go to a
  // staging mapping first, and from there, resized, to new_address as one mapping. A
  // refusal at any step puts them back.
  int saved_errno = errno;
  bool moved = false;
  void* staging =
      mmap(nullptr, old_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (staging != MAP_FAILED) {
    void* staged = mremap(old_address, old_size, old_size,
                          MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, staging);
    if (staged != staging) {
      munmap(staging, old_size);
    } else if (mremap(staging, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, new_address) ==
               new_address) {
      mprotect(old_address, old_size, PROT_NONE);
      moved = true;
    } else if (mremap(staging, old_size, old_size, MREMAP_MAYMOVE | MREMAP_FIXED, old_address) !=
               old_address) {
      // The old range is still mapped and writable (DONTUNMAP left it so): copy back.
      memcpy(old_address, staging, old_size);
      munmap(staging, old_size);
    }
  }
  errno = saved_errno;
  return moved;
}

OneMapping os_range_is_one_mapping(const void* address, size_t size) {
  uintptr_t start = 0, end = 0;
  MappingFlags flags;
  switch (process_query_mapping(reinterpret_cast<uintptr_t>(address), &start, &end, &flags)) {
    case MappingAnswer::kFound:
      return start <= reinterpret_cast<uintptr_t>(address) &&
                     reinterpret_cast<uintptr_t>(address) + size <= end
                 ? OneMapping::kYes
                 : OneMapping::kNo;
    case MappingAnswer::kNone:
      return OneMapping::kNo;
    case MappingAnswer::kUnknown:
      break;
  }
  return OneMapping::kUnknown;
}

bool os_grow_in_place(void* address, size_t old_size, size_t new_size) {
  int saved_errno = errno;
  void* p = mremap(address, old_size, new_size, 0);
  errno = saved_errno;
  return p == address;
}

}  // namespace tally
