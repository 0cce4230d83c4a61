// Thin wrappers over mmap/munmap/madvise/mremap. Callers round sizes to pages.
#include "os/memory.h"

#include <errno.h>
#include <sys/mman.h>

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

bool os_move_pages_leaving_range(void* old_address, size_t size, void* new_address) {
  int saved_errno = errno;
  void* p = mremap(old_address, size, size, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
                   new_address);
  bool moved = p == new_address;
  if (moved) mprotect(old_address, size, PROT_NONE);
  errno = saved_errno;
  return moved;
}

bool os_grow_in_place(void* address, size_t old_size, size_t new_size) {
  int saved_errno = errno;
  void* p = mremap(address, old_size, new_size, 0);
  errno = saved_errno;
  return p == address;
}

}  // namespace tally
