// The report sink. log_path is opened lazily on the first write, as PATH.PID like the
// sanitizers do, so each process of a forking program gets a file of its own.
#include "report/output.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/config.h"
#include "os/process.h"

namespace tally {
namespace {

char g_log_path[4096];

// A file PATH.PID[SUFFIX], opened on first use and again after a fork.
struct LogFile {
  const char* suffix;
  int fd;
  int pid;
  int warned_pid;               // the process that said it could not open the file
  DescriptorIdentity identity;  // what `fd` was when tally opened it (see os/process.h)
};
LogFile g_text_log = {"", -1, 0, 0, {}};
LogFile g_json_log = {".json", -1, 0, 0, {}};

int stderr_fd();

// Said once per process and file: a log_path in a missing or read-only directory sent every
// report to stderr (the JSON ones nowhere) without a word, and a user waiting for the file
// saw nothing.
TALLY_COLD void warn_log_unopenable(LogFile& log, const char* path, int pid, int error) {
  if (log.warned_pid == pid) return;
  log.warned_pid = pid;
  char line[4400];
  Formatter message(line, sizeof line);
  message.text("==").decimal(static_cast<uint64_t>(pid)).text("==WARNING: tally: cannot open ");
  message.text(path).text(" (errno ").decimal(static_cast<uint64_t>(error)).text("): ");
  message.text(log.suffix[0] ? "JSON reports are not written\n" : "reports go to stderr\n");
  write_all(stderr_fd(), line, message.length());
}

int log_fd(LogFile& log) {
  int pid = process_id();
  if (log.fd >= 0 && log.pid == pid && process_descriptor_is(log.fd, log.identity)) return log.fd;
  // Another process's (before a fork) or no longer ours: left alone, not closed.
  char path[4200];
  Formatter name(path, sizeof path - 1);
  name.text(g_log_path).character('.').decimal(static_cast<uint64_t>(pid)).text(log.suffix);
  path[name.length()] = '\0';
  int saved_errno = errno;
  int fd = static_cast<int>(
      syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (fd < 0) {
    int error = errno;
    errno = saved_errno;
    warn_log_unopenable(log, path, pid, error);
    return -1;
  }
  log.fd = fd;
  log.pid = pid;
  log.identity = process_descriptor_identity(fd);
  return fd;
}

// A copy of the program's stderr, kept when output is due at exit (the leak check, stats).
// Programs built with gnulib (tar, sort, the coreutils) close stderr in an exit handler,
// which runs before tally's check: their leak reports were lost while the exit status said
// 23. Like valgrind's own log descriptor, the copy is a high, close-on-exec descriptor;
// it is written to only while descriptor 2 is closed, so a program that redirects its
// stderr still gets the reports where it sent them.
constexpr int kStderrCopyLowest = 200;
int g_stderr_copy = -1;
// Output is due at exit: the copy is taken when the program closes descriptor 2 (close and
// fclose are wrapped, api/stream_overrides.cc), not at start, where descriptor 200 showed in
// every program's /proc/self/fd (python's test_subprocess counts the descriptors a child
// inherits, and found it).
bool g_stderr_copy_wanted = false;
DescriptorIdentity g_stderr_copy_identity;

int stderr_fd() {
  if (g_stderr_copy < 0) return STDERR_FILENO;
  int saved_errno = errno;
  bool closed = fcntl(STDERR_FILENO, F_GETFD) < 0;
  errno = saved_errno;
  if (!closed) return STDERR_FILENO;
  // The copy too may have been closed and its number reused by the program.
  return process_descriptor_is(g_stderr_copy, g_stderr_copy_identity) ? g_stderr_copy
                                                                      : STDERR_FILENO;
}

int sink_fd() {
  if (g_log_path[0] == '\0') return stderr_fd();
  int fd = log_fd(g_text_log);
  return fd < 0 ? stderr_fd() : fd;
}

}  // namespace

Formatter& Formatter::text(const char* text) {
  return this->text(text, strlen(text));
}

Formatter& Formatter::text(const char* text, size_t length) {
  size_t room = capacity_ - length_;
  if (length > room) length = room;
  memcpy(buffer_ + length_, text, length);
  length_ += length;
  return *this;
}

Formatter& Formatter::character(char c) {
  return text(&c, 1);
}

Formatter& Formatter::decimal(uint64_t value) {
  char digits[24];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value);
  while (count) character(digits[--count]);
  return *this;
}

Formatter& Formatter::signed_decimal(int64_t value) {
  if (value < 0) {
    character('-');
    return decimal(static_cast<uint64_t>(-(value + 1)) + 1);
  }
  return decimal(static_cast<uint64_t>(value));
}

Formatter& Formatter::hex(uint64_t value) {
  char digits[16];
  int count = 0;
  do {
    digits[count++] = "0123456789abcdef"[value & 15];
    value >>= 4;
  } while (value);
  text("0x");
  while (count) character(digits[--count]);
  return *this;
}

Formatter& Formatter::padded(uint64_t value, unsigned width) {
  char digits[24];
  Formatter inner(digits, sizeof digits);
  inner.decimal(value);
  for (size_t i = inner.length(); i < width; ++i) character(' ');
  return text(digits, inner.length());
}

Formatter& Formatter::bytes(uint64_t value) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  unsigned unit = 0;
  uint64_t scaled_tenths = value * 10;
  while (scaled_tenths >= 10240 && unit < 4) {
    scaled_tenths /= 1024;
    ++unit;
  }
  decimal(scaled_tenths / 10);
  if (unit) character('.').decimal(scaled_tenths % 10);
  return character(' ').text(kUnits[unit]);
}

void output_set_log_path(const char* log_path) {
  size_t length = strlen(log_path);
  if (length >= sizeof g_log_path) length = sizeof g_log_path - 1;
  memcpy(g_log_path, log_path, length);
  g_log_path[length] = '\0';
  // Files of an earlier path are closed: what follows goes to the new one.
  for (LogFile* log : {&g_text_log, &g_json_log}) {
    if (log->fd >= 0 && log->pid == process_id() && process_descriptor_is(log->fd, log->identity))
      syscall(SYS_close, log->fd);
    log->fd = -1;
    log->pid = 0;
    log->warned_pid = 0;
  }
}

void output_keep_stderr_copy() {
  g_stderr_copy_wanted = true;
}

void output_stderr_closing() {
  if (!g_stderr_copy_wanted || g_stderr_copy >= 0) return;
  int saved_errno = errno;
  g_stderr_copy = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, kStderrCopyLowest);
  errno = saved_errno;
  g_stderr_copy_identity = process_descriptor_identity(g_stderr_copy);
}

// Nothing to write opens nothing: the check at exit of a clean process flushes an empty
// report, which used to leave an empty log file for every process of a shell script.
void output_write(const char* data, size_t length) {
  if (length == 0) return;
  write_all(sink_fd(), data, length);
}

void output_write_json(const char* data, size_t length) {
  if (g_log_path[0] == '\0' || length == 0) return;
  int fd = log_fd(g_json_log);
  if (fd >= 0) write_all(fd, data, length);
}

}  // namespace tally
