// Thin wrappers over mmap/munmap/madvise/mremap. Callers round sizes to pages.
// Every wrapper keeps errno as it found it: the program sees only what its own call set.
#include "os/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"

namespace tally {

void* os_map(size_t size) {
  int saved_errno = errno;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  errno = saved_errno;
  return p == MAP_FAILED ? nullptr : p;
}

void* os_map_aligned(size_t size, size_t alignment) {
  // Over-map by the alignment and trim both ends: two munmaps, but no retry loop.
  if (size + alignment < size) return nullptr;
  char* raw = static_cast<char*>(os_map(size + alignment));
  if (raw == nullptr) return nullptr;
  uintptr_t start = (reinterpret_cast<uintptr_t>(raw) + alignment - 1) & ~(alignment - 1);
  char* aligned = reinterpret_cast<char*>(start);
  size_t head = aligned - raw;
  size_t tail = alignment - head;
  if (head) os_unmap(raw, head);
  if (tail) os_unmap(aligned + size, tail);
  return aligned;
}

void os_unmap(void* address, size_t size) {
  int saved_errno = errno;
  munmap(address, size);
  errno = saved_errno;
}

void os_decommit(void* address, size_t size) {
  int saved_errno = errno;
  madvise(address, size, MADV_DONTNEED);
  errno = saved_errno;
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
  if (os_range_is_one_mapping(old_address, old_size) == OneMapping::kNo) return false;
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

namespace {

// The kernel's PROCMAP_QUERY request on /proc/self/maps (linux/fs.h, Linux 6.11), declared
// here for older headers: the mapping that covers query_address.
struct MapQuery {
  uint64_t size;
  uint64_t query_flags;
  uint64_t query_address;
  uint64_t mapping_start;
  uint64_t mapping_end;
  uint64_t mapping_flags;
  uint64_t mapping_page_size;
  uint64_t mapping_offset;
  uint64_t inode;
  uint32_t device_major;
  uint32_t device_minor;
  uint32_t name_size;
  uint32_t build_id_size;
  uint64_t name_address;
  uint64_t build_id_address;
};
constexpr unsigned long kMapQueryRequest = _IOWR('f', 17, MapQuery);

}  // namespace

OneMapping os_range_is_one_mapping(const void* address, size_t size) {
  int saved_errno = errno;
  OneMapping answer = OneMapping::kUnknown;
  int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps >= 0) {
    MapQuery query;
    memset(&query, 0, sizeof query);
    query.size = sizeof query;
    query.query_address = reinterpret_cast<uintptr_t>(address);
    if (ioctl(maps, kMapQueryRequest, &query) == 0) {
      uintptr_t end = reinterpret_cast<uintptr_t>(address) + size;
      answer =
          query.mapping_start <= reinterpret_cast<uintptr_t>(address) && end <= query.mapping_end
              ? OneMapping::kYes
              : OneMapping::kNo;
    } else if (errno == ENOENT) {
      answer = OneMapping::kNo;  // nothing mapped there
    }
    close(maps);
  }
  errno = saved_errno;
  return answer;
}

bool os_grow_in_place(void* address, size_t old_size, size_t new_size) {
  int saved_errno = errno;
  void* p = mremap(address, old_size, new_size, 0);
  errno = saved_errno;
  return p == address;
}

}  // namespace tally
