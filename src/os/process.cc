// Process facts read through raw system calls and /proc, into stack buffers.
#include "os/process.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

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

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

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
constexpr uint64_t kMapQueryReadable = 1, kMapQueryWritable = 2;

// Once the kernel has refused the request, it is not asked again.
std::atomic<bool> g_map_query_unsupported{false};

// The calling thread's view of the process's mappings. /proc/self names the main thread,
// and once that has ended (pthread_exit from main) its maps read as empty: the leak check
// at a later exit() found no stack for any thread and reported what they held as leaked.
int open_own_maps() {
  int fd = static_cast<int>(
      syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/maps", O_RDONLY | O_CLOEXEC));
  if (fd >= 0) return fd;
  return static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
}

}  // namespace

MappingAnswer process_query_mapping(uintptr_t address, uintptr_t* start, uintptr_t* end,
                                    MappingFlags* flags) {
  if (g_map_query_unsupported.load(std::memory_order_relaxed)) return MappingAnswer::kUnknown;
  // Raw system calls, and errno as found: this runs in signal handlers and inside malloc.
  int saved_errno = errno;
  MappingAnswer answer = MappingAnswer::kUnknown;
  int fd = open_own_maps();
  if (fd >= 0) {
    MapQuery query;
    memset(&query, 0, sizeof query);
    query.size = sizeof query;
    query.query_address = address;
    if (syscall(SYS_ioctl, fd, kMapQueryRequest, &query) == 0) {
      answer = MappingAnswer::kFound;
      *start = query.mapping_start;
      *end = query.mapping_end;
      flags->readable = query.mapping_flags & kMapQueryReadable;
      flags->writable = query.mapping_flags & kMapQueryWritable;
    } else if (errno == ENOENT) {
      answer = MappingAnswer::kNone;
    } else if (errno == ENOTTY || errno == EINVAL) {
      g_map_query_unsupported.store(true, std::memory_order_relaxed);
    }
    syscall(SYS_close, fd);
  }
  errno = saved_errno;
  return answer;
}

bool process_find_mapping(uintptr_t address, uintptr_t* start, uintptr_t* end, bool* writable) {
  MappingFlags flags;
  switch (process_query_mapping(address, start, end, &flags)) {
    case MappingAnswer::kFound:
      *writable = flags.writable;
      return flags.readable;
    case MappingAnswer::kNone:
      return false;
    case MappingAnswer::kUnknown:
      break;
  }
  return process_find_mapping_by_reading(address, start, end, writable);
}

namespace {

// From the first characters of a line's name (empty for none).
MappingBacking backing_of(const char* name, int length) {
  if (length == 0) return MappingBacking::kAnonymous;
  if (name[0] != '[') return MappingBacking::kFile;
  auto starts = [&](const char* prefix) {
    int i = 0;
    for (; prefix[i]; ++i)
      if (i >= length || name[i] != prefix[i]) return false;
    return true;
  };
  if (starts("[heap]") || starts("[anon:")) return MappingBacking::kAnonymous;
  if (starts("[stack]")) return MappingBacking::kStack;
  return MappingBacking::kKernel;
}

}  // namespace

void process_for_each_mapping(bool (*visit)(const MappingLine& line, void* context),
                              void* context) {
  int fd = open_own_maps();
  if (fd < 0) return;
  // A line: "start-end perms offset device inode   name".
  enum Field { kStart, kEnd, kPermissions, kOffset, kDevice, kInode, kName } field = kStart;
  MappingLine line{};
  int permission = 0;
  constexpr int kNameKept = 8;  // enough to tell the kinds of backing apart
  char name[kNameKept];
  int name_length = 0;
  bool done = false;
  char buffer[512];
  while (!done) {
    long got = syscall(SYS_read, fd, buffer, sizeof buffer);
    if (got <= 0) break;
    for (long i = 0; i < got && !done; ++i) {
      char c = buffer[i];
      if (c == '\n') {
        line.backing = backing_of(name, name_length);
        done = !visit(line, context);
        field = kStart;
        line = MappingLine{};
        name_length = 0;
        continue;
      }
      int digit = hex_digit(c);
      switch (field) {
        case kStart:
          if (digit >= 0) {
            line.start = (line.start << 4) | static_cast<uintptr_t>(digit);
          } else if (c == '-') {
            field = kEnd;
          }
          break;
        case kEnd:
          if (digit >= 0) {
            line.end = (line.end << 4) | static_cast<uintptr_t>(digit);
          } else if (c == ' ') {
            field = kPermissions;
            permission = 0;
          }
          break;
        case kPermissions:
          if (c == ' ') {
            field = kOffset;
            break;
          }
          if (permission == 0) line.readable = c == 'r';
          if (permission == 1) line.writable = c == 'w';
          if (permission == 2) line.executable = c == 'x';
          if (permission == 3) line.shared = c == 's';
          ++permission;
          break;
        case kOffset:
          if (c == ' ') field = kDevice;
          break;
        case kDevice:
          if (c == ' ') field = kInode;
          break;
        case kInode:
          if (c == ' ') field = kName;
          break;
        case kName:
          // Spaces pad the inode's column; the name (if any) follows them.
          if (c == ' ' && name_length == 0) break;
          if (name_length < kNameKept) name[name_length++] = c;
          break;
      }
    }
  }
  syscall(SYS_close, fd);
}

bool process_find_mapping_by_reading(uintptr_t address, uintptr_t* start, uintptr_t* end,
                                     bool* writable) {
  struct Search {
    uintptr_t address;
    MappingLine found;
    bool readable;
  } search{address, {}, false};
  process_for_each_mapping(
      [](const MappingLine& line, void* raw) {
        Search& search = *static_cast<Search*>(raw);
        if (line.start <= search.address && search.address < line.end) {
          search.found = line;
          search.readable = line.readable;
          return false;
        }
        return line.start <= search.address;  // the lines are sorted: past it, none holds it
      },
      &search);
  if (search.found.end == 0) return false;
  *start = search.found.start;
  *end = search.found.end;
  *writable = search.found.writable;
  return search.readable;
}

int process_id() {
  return static_cast<int>(syscall(SYS_getpid));
}

CopyAnswer process_copy_own_memory(uintptr_t address, void* buffer, size_t length) {
  struct iovec local = {buffer, length};
  struct iovec remote = {reinterpret_cast<void*>(address), length};
  long copied = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
  if (copied == static_cast<long>(length)) return CopyAnswer::kCopied;
  if (copied >= 0 || errno == EFAULT) return CopyAnswer::kUnreadable;
  return CopyAnswer::kUnknown;
}

namespace {
std::atomic<bool> g_calls_may_be_filtered{false};
std::atomic<bool> g_filter_installed{false};
}  // namespace

bool process_in_sandbox() {
  static std::atomic<bool> sandboxed{false};
  if (sandboxed.load(std::memory_order_relaxed)) return true;
  if (g_filter_installed.load(std::memory_order_relaxed)) return true;
  int saved_errno = errno;
  long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
  // No /proc (a chroot) says nothing, and a readable one neither: containers run every
  // process under a filter that allows what tally does. Being refused one's own status
  // file is a sandbox's doing.
  bool refused = fd < 0 && (errno == EACCES || errno == EPERM);
  if (fd >= 0) syscall(SYS_close, fd);
  errno = saved_errno;
  if (refused) sandboxed.store(true, std::memory_order_relaxed);
  return refused;
}

bool process_may_make_optional_calls() {
  return !g_calls_may_be_filtered.load(std::memory_order_relaxed);
}

void process_note_system_call_filter(bool installed) {
  g_calls_may_be_filtered.store(true, std::memory_order_relaxed);
  if (installed) g_filter_installed.store(true, std::memory_order_relaxed);
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

DescriptorIdentity process_descriptor_identity(int fd) {
  DescriptorIdentity identity;
  struct stat status;
  int saved_errno = errno;
  if (fd >= 0 && fstat(fd, &status) == 0) {
    identity.device = status.st_dev;
    identity.inode = status.st_ino;
  }
  errno = saved_errno;
  return identity;
}

bool process_descriptor_is(int fd, const DescriptorIdentity& identity) {
  if (fd < 0 || (identity.device == 0 && identity.inode == 0)) return false;
  DescriptorIdentity now = process_descriptor_identity(fd);
  return now.device == identity.device && now.inode == identity.inode;
}

bool process_thread_is_zombie(int tid) {
  // "/proc/self/task/<tid>/stat"; the state follows the command name's closing parenthesis
  // (the name may hold spaces and parentheses itself, so the last one counts).
  char path[48] = "/proc/self/task/";
  size_t length = strlen(path);
  char digits[12];
  int count = 0;
  for (unsigned value = static_cast<unsigned>(tid); count == 0 || value != 0; value /= 10)
    digits[count++] = static_cast<char>('0' + value % 10);
  while (count > 0) path[length++] = digits[--count];
  memcpy(path + length, "/stat", 6);
  char buffer[512];
  if (!read_proc_file(path, buffer, sizeof buffer)) return false;
  const char* closing = strrchr(buffer, ')');
  if (!closing || closing[1] != ' ') return false;
  return closing[2] == 'Z' || closing[2] == 'X';
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

namespace {
constexpr uint32_t kTrackedThreadNumbers = 1u << 16;  // as many as block records can name
uint64_t g_vanished[kTrackedThreadNumbers / 64];
}  // namespace

void process_threads_vanished_at_fork() {
  uint32_t self = current_thread_number();
  uint32_t next = g_next_thread_number.load(std::memory_order_relaxed);
  if (next > kTrackedThreadNumbers) next = kTrackedThreadNumbers;
  for (uint32_t number = 0; number < next; ++number)
    if (number != self) g_vanished[number / 64] |= uint64_t{1} << (number % 64);
}

bool process_lost_threads_at_fork() {
  for (uint64_t word : g_vanished)
    if (word) return true;
  return false;
}

bool process_thread_vanished(uint32_t thread_number) {
  return thread_number < kTrackedThreadNumbers &&
         (g_vanished[thread_number / 64] >> (thread_number % 64)) & 1;
}

uint64_t monotonic_nanoseconds() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
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
