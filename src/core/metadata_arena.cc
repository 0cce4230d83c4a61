// A bump allocator over 1 MiB mappings, under a lock (records are made on slow paths only).
#include "core/metadata_arena.h"

#include <stdint.h>

#include "os/memory.h"
#include "os/process.h"

namespace tally {
namespace {

constexpr size_t kChunkSize = size_t{1} << 20;

SpinLock g_lock;
char* g_cursor = nullptr;
char* g_end = nullptr;

}  // namespace

void* metadata_allocate(size_t size) {
  size = (size + 63) & ~size_t{63};
  LockGuard guard(g_lock);
  if (g_cursor == nullptr || static_cast<size_t>(g_end - g_cursor) < size) {
    size_t chunk = size > kChunkSize ? size : kChunkSize;
    char* fresh = static_cast<char*>(os_map(chunk));
    if (!fresh) return nullptr;
    g_cursor = fresh;
    g_end = fresh + chunk;
  }
  void* result = g_cursor;
  g_cursor += size;
  return result;  // fresh mappings are zero
}

void metadata_lock_for_fork() {
  g_lock.lock();
}
void metadata_unlock_after_fork(bool in_child) {
  g_lock.release_after_fork(in_child);
}

}  // namespace tally
