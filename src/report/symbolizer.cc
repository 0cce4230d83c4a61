// Symbolization through an external symbolizer kept running as a child process.
//
// The child talks over one Unix socket (its stdin and stdout), written with MSG_NOSIGNAL so
// a dead child means an error code, never SIGPIPE. llvm-symbolizer takes `"MODULE" 0xOFF`
// lines and answers with function/location line pairs, innermost inlined frame first,
// ended by a blank line. addr2line (-a -f -i -C -e MODULE: one process per module, a few
// kept) answers with an echo of the address and pairs, and has no end marker: after each
// address we send an impossible one (~0) and read until its echo and its two lines.
//
// All state lives in one private mapping made on first use (nothing is allocated with
// malloc here; posix_spawn and dladdr may allocate inside the C library). One lock guards
// it. The lock word holds the pid of the process whose thread holds it, so a child of fork
// that finds the word holding another pid knows the holder does not exist in it and takes
// the lock over; it then drops the parent's symbolizer connections (without killing the
// parent's children) and starts its own.
#include "report/symbolizer.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "os/memory.h"
#include "os/process.h"

extern char** environ;

namespace tally {
namespace {

constexpr int kMaxInlinedFrames = 16;
constexpr int kMaxHelpers = 4;           // addr2line processes (one per module); llvm uses one
constexpr int kMaxFailures = 3;          // deaths before giving up for good
constexpr int kAnswerTimeoutMs = 10000;  // per read; a slow first load of debug info is fine
constexpr size_t kCacheSlots = 4096;     // power of two
constexpr int kCacheProbes = 8;
constexpr size_t kArenaBytes = size_t{1} << 20;
constexpr size_t kResponseBytes = size_t{64} << 10;
constexpr size_t kMaxEnvironment = 4096;
constexpr size_t kPathBytes = 1024;
const char kAddr2lineEndAddress[] = "0xffffffffffffffff";

enum Kind { kUnresolved = 0, kLlvm, kAddr2line, kNone };

struct Helper {
  int pid;                      // 0: none
  int fd;                       // our end of the socket
  DescriptorIdentity identity;  // the socket's, so a number the program reused is not ours
  int owner;                    // the process that started it
  uint64_t last_use;
  char module[kPathBytes];  // addr2line: the module it reads
};

struct CacheSlot {
  uintptr_t pc;
  uint32_t record;  // arena offset + 1; 0: empty
  uint32_t reserved;
};

struct State {
  int owner;  // the process that last used this state
  bool disabled;
  bool path_set;
  int kind;
  int failures;
  char path[kPathBytes];      // set by symbolizer_set_path
  char resolved[kPathBytes];  // the symbolizer in use
  bool demangler_resolved;
  char demangler[kPathBytes];  // c++filt, for names the symbolizer left mangled ("": none)
  Helper helpers[kMaxHelpers];
  uint64_t clock;
  char executable[kPathBytes];
  char self_module[kPathBytes];  // libtally's own file, kept out of the child's LD_PRELOAD
  CacheSlot slots[kCacheSlots];
  size_t arena_used;
  char arena[kArenaBytes];
  char request[kPathBytes + 64];
  char response[kResponseBytes];
  SymbolizedFrame frames[kMaxInlinedFrames];
  char* environment[kMaxEnvironment];
  char preload[8192];
};

constinit std::atomic<State*> g_state{nullptr};
constinit std::atomic<int> g_timeout_ms{kAnswerTimeoutMs};
constinit std::atomic<int> g_lock_owner{0};
__thread bool t_in_symbolizer __attribute__((tls_model("initial-exec"))) = false;

// --- Small string helpers ---------------------------------------------------------------

void copy_text(char* destination, size_t capacity, const char* source, size_t length) {
  if (capacity == 0) return;
  if (length >= capacity) length = capacity - 1;
  memcpy(destination, source, length);
  destination[length] = '\0';
}

void copy_text(char* destination, size_t capacity, const char* source) {
  copy_text(destination, capacity, source, strlen(source));
}

const char* base_name(const char* path, size_t length) {
  const char* base = path;
  for (size_t i = 0; i < length; ++i)
    if (path[i] == '/') base = path + i + 1;
  return base;
}

// Parses a decimal number at `text`; returns the first character after it.
const char* parse_decimal(const char* text, const char* end, int* value) {
  int result = 0;
  while (text < end && *text >= '0' && *text <= '9') {
    if (result < 100000000) result = result * 10 + (*text - '0');
    ++text;
  }
  *value = result;
  return text;
}

void clear_frame(SymbolizedFrame* frame) {
  frame->function[0] = '\0';
  frame->file[0] = '\0';
  frame->line = 0;
  frame->column = 0;
  frame->module[0] = '\0';
  frame->module_offset = 0;
  frame->build_id[0] = '\0';
  frame->inlined = false;
}

// --- The lock ---------------------------------------------------------------------------

void lock_state() {
  int me = process_id();
  for (;;) {
    int holder = 0;
    if (g_lock_owner.compare_exchange_weak(holder, me, std::memory_order_acquire)) return;
    // A holder from another process is a parent's thread that does not exist here.
    if (holder != 0 && holder != me &&
        g_lock_owner.compare_exchange_strong(holder, me, std::memory_order_acquire))
      return;
    sched_yield();
  }
}

void unlock_state() {
  g_lock_owner.store(0, std::memory_order_release);
}

State* get_state() {
  State* state = g_state.load(std::memory_order_acquire);
  if (state) return state;
  void* mapping = os_map(sizeof(State));
  if (!mapping) return nullptr;
  state = static_cast<State*>(mapping);
  state->owner = process_id();
  for (Helper& helper : state->helpers) helper.fd = -1;
  State* expected = nullptr;
  if (!g_state.compare_exchange_strong(expected, state, std::memory_order_acq_rel)) {
    os_unmap(mapping, sizeof(State));
    return expected;
  }
  return state;
}

// --- Modules ----------------------------------------------------------------------------

struct ModuleInfo {
  const char* path;  // nullptr when no module contains the pc
  uintptr_t offset;  // pc minus the load bias
  const char* symbol;
};

void read_executable_path(char* buffer, size_t capacity) {
  // In a sandbox even readlink may kill the process (sshd's does): the path the program
  // was started by, from its auxiliary vector, needs no system call. It is the path given
  // to execve: possibly relative (to the directory it started in) or a script's.
  if (process_in_sandbox()) {
    const char* started_as = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
    copy_text(buffer, capacity, started_as ? started_as : "");
    return;
  }
  ssize_t length = readlink("/proc/self/exe", buffer, capacity - 1);
  buffer[length > 0 ? length : 0] = '\0';
}

// `executable` receives the main program's path when the pc is in it.
ModuleInfo find_module(uintptr_t pc, char* executable, size_t capacity) {
  ModuleInfo info{nullptr, pc, nullptr};
  Dl_info dl;
  memset(&dl, 0, sizeof dl);
  struct link_map* map = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(pc), &dl, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) ||
      map == nullptr)
    return info;
  info.offset = pc - static_cast<uintptr_t>(map->l_addr);
  if (map->l_name == nullptr || map->l_name[0] == '\0') {
    if (executable[0] == '\0') read_executable_path(executable, capacity);
    info.path = executable[0] ? executable : dl.dli_fname;
  } else {
    info.path = map->l_name;
  }
  if (dl.dli_sname && dl.dli_saddr) info.symbol = dl.dli_sname;
  return info;
}

// The build id note is found through the program headers of the object whose loaded
// segments hold the pc (dl_iterate_phdr: the loader's own list, no file read).
struct BuildIdSearch {
  uintptr_t pc;
  char* out;
  size_t capacity;
  bool found;
};

constexpr uint32_t kNoteGnuBuildId = 3;  // NT_GNU_BUILD_ID

bool note_build_id(uintptr_t start, uintptr_t end, char* out, size_t capacity) {
  static const char kHex[] = "0123456789abcdef";
  uintptr_t at = start;
  while (at < end && end - at >= 12) {
    const uint32_t* header = reinterpret_cast<const uint32_t*>(at);
    uint32_t name_size = header[0], description_size = header[1], type = header[2];
    uintptr_t name = at + 12;
    uintptr_t description = name + ((name_size + 3u) & ~3u);
    uintptr_t next = description + ((description_size + 3u) & ~3u);
    if (next > end || next <= at) return false;
    if (type == kNoteGnuBuildId && name_size == 4 &&
        memcmp(reinterpret_cast<const void*>(name), "GNU", 4) == 0) {
      if (description_size == 0 || 2 * size_t{description_size} + 1 > capacity) return false;
      const uint8_t* bytes = reinterpret_cast<const uint8_t*>(description);
      for (uint32_t i = 0; i < description_size; ++i) {
        out[2 * i] = kHex[bytes[i] >> 4];
        out[2 * i + 1] = kHex[bytes[i] & 15];
      }
      out[2 * description_size] = '\0';
      return true;
    }
    at = next;
  }
  return false;
}

int find_build_id(struct dl_phdr_info* info, size_t, void* context) {
  BuildIdSearch* search = static_cast<BuildIdSearch*>(context);
  bool holds_pc = false;
  for (int i = 0; i < info->dlpi_phnum && !holds_pc; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + segment.p_vaddr;
    holds_pc = segment.p_type == PT_LOAD && search->pc - start < segment.p_memsz;
  }
  if (!holds_pc) return 0;
  for (int i = 0; i < info->dlpi_phnum && !search->found; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_NOTE) continue;
    uintptr_t start = info->dlpi_addr + segment.p_vaddr;
    search->found = note_build_id(start, start + segment.p_memsz, search->out, search->capacity);
  }
  return 1;  // the module is found: stop, with or without an id
}

// What is known without a symbolizer: module, offset, exported symbol, build id.
void fill_raw(uintptr_t pc, const ModuleInfo& module, SymbolizedFrame* frame) {
  clear_frame(frame);
  frame->module_offset = module.path ? module.offset : pc;
  if (module.path) copy_text(frame->module, sizeof frame->module, module.path);
  if (module.path) module_build_id(pc, frame->build_id, sizeof frame->build_id);
  if (module.symbol) copy_text(frame->function, sizeof frame->function, module.symbol);
}

// --- The child process ------------------------------------------------------------------

bool executable_file(const char* path) {
  return path[0] != '\0' && access(path, X_OK) == 0;
}

bool search_path(const char* name, char* result, size_t capacity) {
  const char* path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char* end = strchr(path, ':');
    size_t length = end ? static_cast<size_t>(end - path) : strlen(path);
    if (length > 0 && length + strlen(name) + 2 < capacity) {
      memcpy(result, path, length);
      result[length] = '/';
      copy_text(result + length + 1, capacity - length - 1, name);
      if (executable_file(result)) return true;
    }
    path += length;
    if (*path == ':') ++path;
  }
  return false;
}

int kind_of(const char* path) {
  return strstr(base_name(path, strlen(path)), "addr2line") ? kAddr2line : kLlvm;
}

void resolve_symbolizer(State* state) {
  if (state->kind != kUnresolved) return;
  state->kind = kNone;
  // A sandbox may kill the process for looking for one (access) or for starting it: no
  // symbolizer there, frames stay module+offset.
  if (process_in_sandbox()) return;
  if (state->path_set) {
    if (executable_file(state->path)) {
      copy_text(state->resolved, sizeof state->resolved, state->path);
      state->kind = kind_of(state->path);
    }
    return;
  }
  static const char* const kLlvmPaths[] = {"/usr/bin/llvm-symbolizer-14",
                                           "/usr/lib/llvm-14/bin/llvm-symbolizer"};
  if (search_path("llvm-symbolizer", state->resolved, sizeof state->resolved)) {
    state->kind = kLlvm;
    return;
  }
  for (const char* candidate : kLlvmPaths) {
    if (executable_file(candidate)) {
      copy_text(state->resolved, sizeof state->resolved, candidate);
      state->kind = kLlvm;
      return;
    }
  }
  if (search_path("addr2line", state->resolved, sizeof state->resolved)) {
    state->kind = kAddr2line;
  } else if (executable_file("/usr/bin/addr2line")) {
    copy_text(state->resolved, sizeof state->resolved, "/usr/bin/addr2line");
    state->kind = kAddr2line;
  }
}

// True for an LD_PRELOAD entry that is libtally (ours, or any build of it).
bool is_tally_library(State* state, const char* entry, size_t length) {
  if (state->self_module[0] && strlen(state->self_module) == length &&
      memcmp(state->self_module, entry, length) == 0)
    return true;
  const char* base = base_name(entry, length);
  return static_cast<size_t>(entry + length - base) >= 8 && memcmp(base, "libtally", 8) == 0;
}

// The environment for the child: ours, with libtally taken out of LD_PRELOAD.
char** child_environment(State* state) {
  if (state->self_module[0] == '\0') {
    Dl_info dl;
    if (dladdr(reinterpret_cast<void*>(&child_environment), &dl) && dl.dli_fname)
      copy_text(state->self_module, sizeof state->self_module, dl.dli_fname);
  }
  size_t count = 0;
  for (char** entry = environ; entry && *entry && count + 1 < kMaxEnvironment; ++entry) {
    if (strncmp(*entry, "LD_PRELOAD=", 11) != 0) {
      state->environment[count++] = *entry;
      continue;
    }
    Formatter kept(state->preload, sizeof state->preload - 1);
    kept.text("LD_PRELOAD=");
    size_t prefix = kept.length();
    const char* list = *entry + 11;
    while (*list) {
      size_t length = strcspn(list, ": ");
      if (length > 0 && !is_tally_library(state, list, length)) {
        if (kept.length() > prefix) kept.character(':');
        kept.text(list, length);
      }
      list += length;
      if (*list) ++list;
    }
    state->preload[kept.length()] = '\0';
    if (kept.length() > prefix) state->environment[count++] = state->preload;
  }
  state->environment[count] = nullptr;
  return state->environment;
}

int move_above_standard_fds(int fd) {
  if (fd > STDERR_FILENO) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  close(fd);
  return moved;
}

// Starts `argv` with its stdin and stdout on a socket; returns the pid (0 on failure).
int spawn_child(State* state, char* const* argv, int* fd) {
  // In a sandbox, socketpair and clone may be what kills the process (see above).
  if (process_in_sandbox()) return 0;
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) return 0;
  sockets[0] = move_above_standard_fds(sockets[0]);
  sockets[1] = move_above_standard_fds(sockets[1]);
  if (sockets[0] < 0 || sockets[1] < 0) {
    if (sockets[0] >= 0) close(sockets[0]);
    if (sockets[1] >= 0) close(sockets[1]);
    return 0;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sockets[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, sockets[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int status = posix_spawn(&pid, argv[0], &actions, &attributes, argv, child_environment(state));
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(sockets[1]);
  if (status != 0 || pid <= 0) {
    close(sockets[0]);
    return 0;
  }
  *fd = sockets[0];
  return pid;
}

void reap_if_exited(int pid) {
  int saved_errno = errno;
  waitpid(pid, nullptr, WNOHANG);
  errno = saved_errno;
}

void reap(int pid, bool kill_first) {
  if (kill_first) {
    // Only a child not yet waited for is surely ours: a program that waits for any child
    // (a shell, a server's SIGCHLD handler) may have reaped it, and its number may belong
    // to another process by now.
    int result = waitpid(pid, nullptr, WNOHANG);
    if (result == pid || (result < 0 && errno == ECHILD)) return;
    kill(pid, SIGKILL);
  }
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Ends a helper of this process: closing the socket ends a healthy symbolizer; one that
// does not go within 200 ms is killed.
void stop_helper(Helper* helper, bool kill_now) {
  if (helper->pid == 0) return;
  int saved_errno = errno;
  if (process_descriptor_is(helper->fd, helper->identity)) close(helper->fd);
  bool gone = false;
  for (int i = 0; i < 200 && !kill_now; ++i) {
    int result = waitpid(helper->pid, nullptr, WNOHANG);
    if (result == helper->pid || (result < 0 && errno == ECHILD)) {
      gone = true;
      break;
    }
    struct timespec millisecond = {0, 1000000};
    nanosleep(&millisecond, nullptr);
  }
  if (!gone) reap(helper->pid, true);
  helper->pid = 0;
  helper->fd = -1;
  helper->module[0] = '\0';
  errno = saved_errno;
}

void stop_all_helpers(State* state) {
  for (Helper& helper : state->helpers) stop_helper(&helper, false);
}

// In the child of a fork: the helpers are the parent's. Forget them, leave them running.
void adopt_after_fork(State* state, int me) {
  for (Helper& helper : state->helpers) {
    if (helper.pid != 0 && helper.owner != me) {
      if (process_descriptor_is(helper.fd, helper.identity)) close(helper.fd);
      helper.pid = 0;
      helper.fd = -1;
      helper.module[0] = '\0';
    }
  }
  state->owner = me;
  state->failures = 0;
}

void clear_cache(State* state) {
  memset(state->slots, 0, sizeof state->slots);
  state->arena_used = 0;
}

Helper* helper_for(State* state, const char* module) {
  Helper* chosen = nullptr;
  if (state->kind == kLlvm) {
    chosen = &state->helpers[0];
  } else {
    for (Helper& helper : state->helpers) {
      if (helper.pid != 0 && strcmp(helper.module, module) == 0) {
        chosen = &helper;
        break;
      }
    }
    if (!chosen) {  // a free helper, else the least recently used
      chosen = &state->helpers[0];
      for (Helper& helper : state->helpers) {
        if (helper.pid == 0) {
          chosen = &helper;
          break;
        }
        if (helper.last_use < chosen->last_use) chosen = &helper;
      }
      stop_helper(chosen, false);
    }
  }
  if (chosen->pid != 0 && !process_descriptor_is(chosen->fd, chosen->identity)) {
    // The program closed our socket (and may have reused its number): the helper reads the
    // end of its input and exits; it is left to that, and a new one started.
    reap_if_exited(chosen->pid);
    chosen->pid = 0;
    chosen->fd = -1;
  }
  if (chosen->pid == 0) {
    char* argv[10];
    int argc = 0;
    argv[argc++] = state->resolved;
    if (state->kind == kLlvm) {
      argv[argc++] = const_cast<char*>("--inlines");
      argv[argc++] = const_cast<char*>("--demangle");
      argv[argc++] = const_cast<char*>("--functions=linkage");
    } else {
      argv[argc++] = const_cast<char*>("-a");
      argv[argc++] = const_cast<char*>("-f");
      argv[argc++] = const_cast<char*>("-i");
      argv[argc++] = const_cast<char*>("-C");
      argv[argc++] = const_cast<char*>("-e");
      copy_text(chosen->module, sizeof chosen->module, module);
      argv[argc++] = chosen->module;
    }
    argv[argc] = nullptr;
    int fd = -1;
    int pid = spawn_child(state, argv, &fd);
    if (pid == 0) {
      state->kind = kNone;  // cannot start it: no point in trying for every frame
      return nullptr;
    }
    chosen->pid = pid;
    chosen->fd = fd;
    chosen->identity = process_descriptor_identity(fd);
    chosen->owner = state->owner;
  }
  chosen->last_use = ++state->clock;
  return chosen;
}

bool send_all(int fd, const char* data, size_t length) {
  while (length > 0) {
    ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data += sent;
    length -= static_cast<size_t>(sent);
  }
  return true;
}

// Where the answer ends, or nullptr while it is incomplete.
const char* answer_end(int kind, const char* response, size_t length) {
  if (kind == kLlvm) {
    for (size_t i = 0; i + 1 < length; ++i)
      if (response[i] == '\n' && response[i + 1] == '\n') return response + i + 2;
    return nullptr;
  }
  // addr2line: the echo of the end address, then two lines.
  const char* end = nullptr;
  for (size_t i = 0; i < length; ++i) {
    if ((i == 0 || response[i - 1] == '\n') &&
        strncmp(response + i, kAddr2lineEndAddress, sizeof kAddr2lineEndAddress - 1) == 0) {
      end = response + i;
      break;
    }
  }
  if (!end) return nullptr;
  int lines = 0;
  for (const char* p = end; p < response + length; ++p) {
    if (*p == '\n' && ++lines == 3) return end;  // the answer proper stops at the echo
  }
  return nullptr;
}

// Sends the request and reads the whole answer into state->response. False when the
// helper died (it is restarted for the next question, up to kMaxFailures times) or hung or
// babbled (the symbolizer is given up for good); either way it has been stopped.
bool exchange(State* state, Helper* helper, size_t request_length, size_t* answer_length) {
  int saved_errno = errno;
  bool died = !send_all(helper->fd, state->request, request_length);
  bool hung = false;
  size_t length = 0;
  const char* end = nullptr;
  while (!died && !hung && !end) {
    struct pollfd poll_fd = {helper->fd, POLLIN, 0};
    int ready = poll(&poll_fd, 1, g_timeout_ms.load(std::memory_order_relaxed));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || length + 1 >= sizeof state->response) {
      hung = true;
      break;
    }
    ssize_t got = read(helper->fd, state->response + length, sizeof state->response - 1 - length);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      died = true;
      break;
    }
    length += static_cast<size_t>(got);
    end = answer_end(state->kind, state->response, length);
  }
  errno = saved_errno;
  if (died || hung) {
    stop_helper(helper, true);
    if (hung || ++state->failures >= kMaxFailures) state->kind = kNone;
    return false;
  }
  *answer_length = static_cast<size_t>(end - state->response);
  return true;
}

// Splits `FILE:LINE[:COLUMN][ (discriminator N)]` into the frame.
void parse_location(const char* text, const char* end, SymbolizedFrame* frame) {
  const char* discriminator = nullptr;
  for (const char* p = text; p + 1 < end; ++p)
    if (p[0] == ' ' && p[1] == '(') discriminator = p;
  if (discriminator) end = discriminator;
  // Up to two trailing numeric fields, each after a ':'.
  int numbers[2] = {0, 0};
  int found = 0;
  const char* file_end = end;
  while (found < 2) {
    const char* colon = file_end;
    while (colon > text && colon[-1] != ':') --colon;
    if (colon == text) break;
    const char* digits = colon;
    bool numeric = digits < file_end;
    for (const char* p = digits; p < file_end; ++p) numeric = numeric && *p >= '0' && *p <= '9';
    if (!numeric && !(file_end - digits == 1 && *digits == '?')) break;
    int value = 0;
    parse_decimal(digits, file_end, &value);
    numbers[found++] = value;
    file_end = colon - 1;
  }
  if (found == 0) file_end = end;
  int line = found == 2 ? numbers[1] : numbers[0];
  int column = found == 2 ? numbers[0] : 0;
  size_t file_length = static_cast<size_t>(file_end - text);
  // A file without a line (llvm-symbolizer names the symbol table's file symbol when there
  // is no debug information) says less than module+offset: keep it unknown.
  if (line <= 0 || file_length == 0 || (file_length == 2 && text[0] == '?' && text[1] == '?'))
    return;
  copy_text(frame->file, sizeof frame->file, text, file_length);
  frame->line = line;
  frame->column = column;
}

// Parses `function\nlocation\n` pairs into state->frames; returns how many.
int parse_answer(State* state, size_t length) {
  const char* p = state->response;
  const char* end = state->response + length;
  if (state->kind == kAddr2line) {  // skip the echo of our address
    const char* newline = static_cast<const char*>(memchr(p, '\n', length));
    if (!newline) return 0;
    p = newline + 1;
  }
  int count = 0;
  while (p < end && count < kMaxInlinedFrames) {
    const char* function_end = static_cast<const char*>(memchr(p, '\n', end - p));
    if (!function_end || function_end == p) break;
    const char* location = function_end + 1;
    const char* location_end = static_cast<const char*>(memchr(location, '\n', end - location));
    if (!location_end) break;
    SymbolizedFrame* frame = &state->frames[count++];
    clear_frame(frame);
    size_t function_length = static_cast<size_t>(function_end - p);
    if (!(function_length == 2 && p[0] == '?' && p[1] == '?'))
      copy_text(frame->function, sizeof frame->function, p, function_length);
    parse_location(location, location_end, frame);
    p = location_end + 1;
  }
  return count;
}

// llvm-symbolizer 14 leaves some names mangled (templates with an expression among their
// arguments, as in libstdc++'s std::default_delete<T[]>::operator()); c++filt, of the
// binutils that addr2line comes with, reads them. One short-lived child per such name, at
// report time only (the frame is cached demangled). The name is left as it is when there
// is no c++filt or it does not answer in time.
void demangle_leftover(State* state, char* name, size_t capacity) {
  if (name[0] != '_' || name[1] != 'Z') return;
  if (!state->demangler_resolved) {
    state->demangler_resolved = true;
    if (!search_path("c++filt", state->demangler, sizeof state->demangler))
      state->demangler[0] = '\0';
  }
  if (state->demangler[0] == '\0') return;
  char* argv[] = {state->demangler, nullptr};
  int fd;
  int pid = spawn_child(state, argv, &fd);
  if (pid == 0) return;
  int saved_errno = errno;
  size_t length = 0;
  if (send_all(fd, name, strlen(name)) && send_all(fd, "\n", 1)) {
    shutdown(fd, SHUT_WR);  // c++filt answers a pipe at its end of input
    while (length + 1 < sizeof state->response) {
      struct pollfd poll_fd = {fd, POLLIN, 0};
      int ready = poll(&poll_fd, 1, g_timeout_ms.load(std::memory_order_relaxed));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      ssize_t got = read(fd, state->response + length, sizeof state->response - 1 - length);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      length += static_cast<size_t>(got);
    }
  }
  close(fd);
  reap(pid, true);
  errno = saved_errno;
  const char* newline = static_cast<const char*>(memchr(state->response, '\n', length));
  if (!newline || newline == state->response) return;
  size_t answer = static_cast<size_t>(newline - state->response);
  if (answer >= 2 && state->response[0] == '_' && state->response[1] == 'Z') return;
  copy_text(name, capacity, state->response, answer);
}

// Asks the symbolizer about `module`+`offset`; fills state->frames, returns their number
// (0: no answer).
int ask_symbolizer(State* state, const char* module, uintptr_t offset) {
  resolve_symbolizer(state);
  if (state->kind == kNone || strchr(module, '"') || strchr(module, '\n') ||
      access(module, R_OK) != 0)
    return 0;
  Helper* helper = helper_for(state, module);
  if (!helper) return 0;
  Formatter request(state->request, sizeof state->request);
  if (state->kind == kLlvm) {
    request.character('"').text(module).text("\" ").hex(offset).character('\n');
  } else {
    request.hex(offset).character('\n').text(kAddr2lineEndAddress).character('\n');
  }
  size_t length = 0;
  if (!exchange(state, helper, request.length(), &length)) return 0;
  return parse_answer(state, length);
}

// --- The cache --------------------------------------------------------------------------
// A record: count (1 byte), module offset, module, then per frame line, column, inlined
// flag, function, file (strings NUL-terminated).

size_t slot_index(uintptr_t pc) {
  return static_cast<size_t>((pc * 0x9e3779b97f4a7c15ULL) >> 52) & (kCacheSlots - 1);
}

void put_bytes(char** cursor, const void* data, size_t length) {
  memcpy(*cursor, data, length);
  *cursor += length;
}

void put_text(char** cursor, const char* text) {
  put_bytes(cursor, text, strlen(text) + 1);
}

void get_bytes(const char** cursor, void* data, size_t length) {
  memcpy(data, *cursor, length);
  *cursor += length;
}

void get_text(const char** cursor, char* destination, size_t capacity) {
  size_t length = strlen(*cursor);
  copy_text(destination, capacity, *cursor, length);
  *cursor += length + 1;
}

void cache_store(State* state, uintptr_t pc, const SymbolizedFrame* frames, int count) {
  size_t size =
      1 + sizeof(uintptr_t) + strlen(frames[0].module) + 1 + strlen(frames[0].build_id) + 1;
  for (int i = 0; i < count; ++i)
    size += 2 * sizeof(int) + 1 + strlen(frames[i].function) + strlen(frames[i].file) + 2;
  if (size > kArenaBytes) return;
  if (state->arena_used + size > kArenaBytes) clear_cache(state);
  char* cursor = state->arena + state->arena_used;
  uint8_t frame_count = static_cast<uint8_t>(count);
  put_bytes(&cursor, &frame_count, 1);
  put_bytes(&cursor, &frames[0].module_offset, sizeof(uintptr_t));
  put_text(&cursor, frames[0].module);
  put_text(&cursor, frames[0].build_id);
  for (int i = 0; i < count; ++i) {
    put_bytes(&cursor, &frames[i].line, sizeof(int));
    put_bytes(&cursor, &frames[i].column, sizeof(int));
    uint8_t inlined = frames[i].inlined ? 1 : 0;
    put_bytes(&cursor, &inlined, 1);
    put_text(&cursor, frames[i].function);
    put_text(&cursor, frames[i].file);
  }
  uint32_t record = static_cast<uint32_t>(state->arena_used + 1);
  state->arena_used += size;
  size_t home = slot_index(pc);
  for (int probe = 0; probe < kCacheProbes; ++probe) {
    CacheSlot& slot = state->slots[(home + probe) & (kCacheSlots - 1)];
    if (slot.record == 0 || slot.pc == pc) {
      slot.pc = pc;
      slot.record = record;
      return;
    }
  }
  state->slots[home].pc = pc;  // all probed slots taken: replace the first
  state->slots[home].record = record;
}

// Copies a cached answer for `pc` into `out`; returns the frame count, 0 on a miss.
int cache_load(State* state, uintptr_t pc, SymbolizedFrame* out, int capacity) {
  size_t home = slot_index(pc);
  for (int probe = 0; probe < kCacheProbes; ++probe) {
    const CacheSlot& slot = state->slots[(home + probe) & (kCacheSlots - 1)];
    if (slot.record == 0) return 0;
    if (slot.pc != pc) continue;
    const char* cursor = state->arena + slot.record - 1;
    uint8_t count = 0;
    uintptr_t offset = 0;
    get_bytes(&cursor, &count, 1);
    get_bytes(&cursor, &offset, sizeof offset);
    const char* module = cursor;
    cursor += strlen(module) + 1;
    const char* build_id = cursor;
    cursor += strlen(build_id) + 1;
    int stored = 0;
    for (int i = 0; i < count; ++i) {
      SymbolizedFrame scratch;
      SymbolizedFrame* frame = stored < capacity ? &out[stored] : &scratch;
      clear_frame(frame);
      get_bytes(&cursor, &frame->line, sizeof(int));
      get_bytes(&cursor, &frame->column, sizeof(int));
      uint8_t inlined = 0;
      get_bytes(&cursor, &inlined, 1);
      frame->inlined = inlined != 0;
      get_text(&cursor, frame->function, sizeof frame->function);
      get_text(&cursor, frame->file, sizeof frame->file);
      copy_text(frame->module, sizeof frame->module, module);
      copy_text(frame->build_id, sizeof frame->build_id, build_id);
      frame->module_offset = offset;
      if (stored < capacity) ++stored;
    }
    return stored;
  }
  return 0;
}

// --- Symbolizing under the lock ---------------------------------------------------------

// Takes the lock; in the child of a fork, first drops the parent's helpers.
void enter(State* state) {
  lock_state();
  int me = process_id();
  if (state->owner != me) adopt_after_fork(state, me);
}

// Symbolizes into state->frames; returns the count (>= 1).
int symbolize_locked(State* state, uintptr_t pc) {
  if (!state->disabled) {
    int cached = cache_load(state, pc, state->frames, kMaxInlinedFrames);
    if (cached > 0) return cached;
  }
  ModuleInfo module = find_module(pc, state->executable, sizeof state->executable);
  int count = 0;
  if (!state->disabled && module.path) count = ask_symbolizer(state, module.path, module.offset);
  bool known = false;
  for (int i = 0; i < count; ++i) known = known || state->frames[i].function[0] != '\0';
  if (count == 0 || !known) {
    fill_raw(pc, module, &state->frames[0]);
    if (count > 0) cache_store(state, pc, state->frames, 1);  // the symbolizer knows nothing
    return 1;
  }
  char build_id[sizeof state->frames[0].build_id];
  module_build_id(pc, build_id, sizeof build_id);
  for (int i = 0; i < count; ++i) {
    SymbolizedFrame* frame = &state->frames[i];
    demangle_leftover(state, frame->function, sizeof frame->function);
    copy_text(frame->module, sizeof frame->module, module.path);
    copy_text(frame->build_id, sizeof frame->build_id, build_id);
    frame->module_offset = module.offset;
    frame->inlined = i + 1 < count;
  }
  cache_store(state, pc, state->frames, count);
  return count;
}

// Runs `body(frames, count)` on the symbolization of `pc`, under the lock when it can be
// taken; a re-entrant call (from an allocation inside the symbolizer) gets a raw frame.
template <typename Body>
void with_symbolized(uintptr_t pc, Body body) {
  State* state = t_in_symbolizer ? nullptr : get_state();
  if (!state) {
    SymbolizedFrame frame;
    char executable[kPathBytes] = "";
    fill_raw(pc, find_module(pc, executable, sizeof executable), &frame);
    body(&frame, 1);
    return;
  }
  t_in_symbolizer = true;
  enter(state);
  int count = symbolize_locked(state, pc);
  body(state->frames, count);
  unlock_state();
  t_in_symbolizer = false;
}

void append_module(Formatter& out, const SymbolizedFrame& frame) {
  out.character('(');
  if (frame.module[0]) {
    out.text(frame.module).character('+').hex(frame.module_offset);
  } else {
    out.text("<unknown module>");
  }
  out.character(')');
}

}  // namespace

bool module_build_id(uintptr_t pc, char* out, size_t capacity) {
  if (capacity) out[0] = '\0';
  BuildIdSearch search{pc, out, capacity, false};
  dl_iterate_phdr(find_build_id, &search);
  return search.found;
}

int symbolize(uintptr_t pc, SymbolizedFrame* out, int capacity) {
  if (capacity <= 0) return 0;
  int stored = 0;
  with_symbolized(pc, [&](const SymbolizedFrame* frames, int count) {
    for (int i = 0; i < count && stored < capacity; ++i) out[stored++] = frames[i];
  });
  return stored;
}

void symbolizer_set_path(const char* path) {
  State* state = get_state();
  if (!state) return;
  enter(state);
  stop_all_helpers(state);
  state->path_set = path && path[0];
  copy_text(state->path, sizeof state->path, state->path_set ? path : "");
  state->disabled = false;
  state->kind = kUnresolved;
  state->failures = 0;
  clear_cache(state);
  unlock_state();
}

void symbolizer_disable() {
  State* state = get_state();
  if (!state) return;
  enter(state);
  stop_all_helpers(state);
  state->disabled = true;
  unlock_state();
}

void symbolizer_shutdown() {
  State* state = g_state.load(std::memory_order_acquire);
  if (!state) return;
  enter(state);
  stop_all_helpers(state);
  unlock_state();
}

void symbolizer_set_timeout_for_testing(int milliseconds) {
  g_timeout_ms.store(milliseconds > 0 ? milliseconds : kAnswerTimeoutMs, std::memory_order_relaxed);
}

int symbolizer_process_id() {
  State* state = g_state.load(std::memory_order_acquire);
  if (!state) return 0;
  enter(state);
  int pid = 0;
  for (const Helper& helper : state->helpers)
    if (helper.pid != 0) pid = helper.pid;
  unlock_state();
  return pid;
}

void format_symbolized_frame(Formatter& out, int number, uintptr_t pc,
                             const SymbolizedFrame& frame) {
  out.text("    #").decimal(static_cast<uint64_t>(number)).character(' ').hex(pc);
  if (frame.function[0]) {
    out.text(" in ").text(frame.function);
    if (frame.file[0]) {
      out.character(' ').text(frame.file);
      if (frame.line > 0) {
        out.character(':').decimal(static_cast<uint64_t>(frame.line));
        if (frame.column > 0) out.character(':').decimal(static_cast<uint64_t>(frame.column));
      }
      out.character('\n');
      return;
    }
  }
  out.character(' ');
  append_module(out, frame);
  // As AddressSanitizer does: the id that names the file to symbolize the frame with later.
  if (frame.build_id[0]) out.text(" (BuildId: ").text(frame.build_id).character(')');
  out.character('\n');
}

int symbolizer_format_frame(Formatter& out, int number, uintptr_t pc) {
  with_symbolized(pc, [&](const SymbolizedFrame* frames, int count) {
    for (int i = 0; i < count; ++i) format_symbolized_frame(out, number++, pc, frames[i]);
  });
  return number;
}

void symbolizer_format_location(Formatter& out, uintptr_t pc) {
  with_symbolized(pc, [&](const SymbolizedFrame* frames, int) {
    const SymbolizedFrame& frame = frames[0];
    if (frame.function[0] && frame.file[0]) {
      out.text(frame.file);
      if (frame.line > 0) out.character(':').decimal(static_cast<uint64_t>(frame.line));
      out.text(" in ").text(frame.function);
      return;
    }
    append_module(out, frame);
    if (frame.function[0]) out.text(" in ").text(frame.function);
  });
}

}  // namespace tally
