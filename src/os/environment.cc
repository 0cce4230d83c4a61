// Reads /proc/self/environ once, with raw system calls, into a private mapping. Falls back
// to the C library's `environ` when /proc is not mounted. The snapshot is the environment
// at exec time, which is what options must come from.
#include "os/environment.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "os/memory.h"

extern char** environ;

namespace tally {
namespace {

constexpr size_t kMaxEnvironmentBytes = size_t{1} << 24;  // reserved, touched as read

std::atomic<const char*> g_snapshot{nullptr};
size_t g_snapshot_size = 0;

const char* load_snapshot() {
  const char* loaded = g_snapshot.load(std::memory_order_acquire);
  if (loaded) return loaded;
  int fd =
      static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/environ", O_RDONLY | O_CLOEXEC));
  if (fd < 0) return nullptr;
  char* buffer = static_cast<char*>(os_map(kMaxEnvironmentBytes));
  if (!buffer) {
    syscall(SYS_close, fd);
    return nullptr;
  }
  size_t size = 0;
  while (size + 1 < kMaxEnvironmentBytes) {
    long got = syscall(SYS_read, fd, buffer + size, kMaxEnvironmentBytes - 1 - size);
    if (got <= 0) break;
    size += static_cast<size_t>(got);
  }
  syscall(SYS_close, fd);
  buffer[size] = '\0';
  const char* expected = nullptr;
  if (!g_snapshot.compare_exchange_strong(expected, buffer)) {
    os_unmap(buffer, kMaxEnvironmentBytes);  // another thread won; keep its copy
    return expected;
  }
  g_snapshot_size = size;
  return buffer;
}

}  // namespace

const char* environment_get(const char* name) {
  size_t name_length = strlen(name);
  const char* snapshot = load_snapshot();
  if (snapshot) {
    const char* end = snapshot + g_snapshot_size;
    for (const char* entry = snapshot; entry < end; entry += strlen(entry) + 1) {
      if (strncmp(entry, name, name_length) == 0 && entry[name_length] == '=')
        return entry + name_length + 1;
    }
    return nullptr;
  }
  if (!environ) return nullptr;
  for (char** entry = environ; *entry; ++entry) {
    if (strncmp(*entry, name, name_length) == 0 && (*entry)[name_length] == '=')
      return *entry + name_length + 1;
  }
  return nullptr;
}

}  // namespace tally
