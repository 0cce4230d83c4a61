// Process facts read through raw system calls and /proc, into stack buffers.
#include "os/process.h"

#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>


namespace tally {
namespace {

std::atomic<uint32_t> g_next_thread_number{0};

// Reads a small /proc file into `buffer`; returns the length, 0 on failure.
size_t read_proc_file(const char* path, char* buffer, size_t capacity) {
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return 0;
  size_t size = 0;
  while (size + 1 < capacity) {
    long got = syscall(SYS_read, fd, buffer + size, capacity - 1 - size);
    if (got <= 0) break;
    size += static_cast<size_t>(got);
  }
  syscall(SYS_close, fd);
  buffer[size] = '\0';
  return size;
}

size_t parse_decimal(const char* text) {
  size_t value = 0;
  while (*text == ' ' || *text == '\t') ++text;
  while (*text >= '0' && *text <= '9') value = value * 10 + static_cast<size_t>(*text++ - '0');
  return value;
}

}  // namespace

int process_id() {
  return static_cast<int>(syscall(SYS_getpid));
}

size_t process_resident_bytes() {
  char buffer[128];
  if (!read_proc_file("/proc/self/statm", buffer, sizeof buffer)) return 0;
  const char* second_field = strchr(buffer, ' ');
  if (!second_field) return 0;
  return parse_decimal(second_field + 1) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t process_resident_peak_bytes() {
  char buffer[4096];
  if (!read_proc_file("/proc/self/status", buffer, sizeof buffer)) return 0;
  const char* line = strstr(buffer, "VmHWM:");
  if (!line) return 0;
  return parse_decimal(line + 6) * 1024;
}

void write_all(int fd, const char* data, size_t length) {
  while (length > 0) {
    long written = syscall(SYS_write, fd, data, length);
    if (written <= 0) return;
    data += written;
    length -= static_cast<size_t>(written);
  }
}

__thread uint32_t t_thread_number_plus_one = 0;

uint32_t assign_thread_number() {
  t_thread_number_plus_one = g_next_thread_number.fetch_add(1, std::memory_order_relaxed) + 1;
  return t_thread_number_plus_one - 1;
}

uint32_t monotonic_milliseconds() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<uint32_t>(now.tv_sec * 1000 + now.tv_nsec / 1000000);
}

void SpinLock::lock_slow() {
  for (unsigned spins = 0;; ++spins) {
    while (flag_.load(std::memory_order_relaxed)) {
      if (spins < 64) {
        __builtin_ia32_pause();
        ++spins;
      } else {
        sched_yield();
      }
    }
    if (!flag_.exchange(true, std::memory_order_acquire)) return;
  }
}

}  // namespace tally
