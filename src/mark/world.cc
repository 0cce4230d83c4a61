// Stopping the world with a signal. The controller lists /proc/self/task, sends the signal
// to each thread it has not signalled yet, waits for their answers, and lists again until
// no new thread turns up. Each handler describes its thread into a slot of a preallocated
// table (no allocation, raw system calls only), answers, and waits on a futex for the
// epoch to change.
#include "mark/world.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include <atomic>

#include "core/config.h"
#include "os/memory.h"
#include "os/process.h"
#include "report/output.h"
#include "report/stack_capture.h"

namespace tally {
namespace {

constexpr int kMaxThreads = 8192;
constexpr int kAnswerTimeoutMilliseconds = 1000;
constexpr uint32_t kZombieQuestionMilliseconds = 20;

struct Slot {
  std::atomic<int> ready;  // the handler finished describing its thread
  StoppedThread thread;
};

Slot* g_slots = nullptr;       // kMaxThreads, mapped at the first stop
int g_signalled[kMaxThreads];  // tids signalled this stop; 0 once gone, -tid for a zombie
int g_signalled_count = 0;
int g_signal = SIGPWR;
bool g_handler_installed = false;
// This stop: the handler is installed (only once a thread is to be signalled), or failed to.
bool g_handler_ready = false;
bool g_handler_failed = false;
bool g_threads_unlisted = false;    // /proc/self/task could not be read
struct sigaction g_program_action;  // the signal's disposition before tally's first stop
std::atomic<int> g_stopping{0};
std::atomic<uint32_t> g_epoch{0};
std::atomic<int> g_claimed{0};   // slots handed out (handlers and the controller)
std::atomic<int> g_answered{0};  // as a futex word
std::atomic<int> g_in_handler{0};
int g_thread_count = 0;  // slots the current stop reports

}  // namespace
}  // namespace tally

// The loader's size of a thread's static TLS block (descriptor included), GLIBC_PRIVATE:
// weak, so that a C library without it leaves the fallback bound.
extern "C" void _dl_get_tls_static_info(size_t* size, size_t* alignment) __attribute__((weak));

namespace tally {
namespace {

// The static TLS and the descriptor of the thread whose descriptor is at `self`, within the
// writable mapping [start, end) that holds it. The kernel merges neighbouring anonymous
// mappings with the same permissions into one: the main thread's TLS mapping (the
// loader's) took in a mapping the program made next to it, which was then scanned as a
// root (its blocks never leaked) and, once unmapped, faulted the marker.
MemoryRange descriptor_range_within(uintptr_t self, uintptr_t start, uintptr_t end) {
  size_t static_size = 0, alignment = 0;
  if (_dl_get_tls_static_info) _dl_get_tls_static_info(&static_size, &alignment);
  if (static_size == 0 || static_size > (size_t{16} << 20)) static_size = size_t{64} << 10;
  // Static TLS lies below the descriptor, the descriptor (a few KiB) above it.
  uintptr_t low = self > static_size + alignment ? self - static_size - alignment : 0;
  uintptr_t high = self + 2 * kOsPageSize;
  return MemoryRange{low > start ? low : start, high < end ? high : end};
}

long futex(std::atomic<int>* word, int op, int value, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<int*>(word), op, value, timeout, nullptr, 0);
}

int current_tid() {
  return static_cast<int>(syscall(SYS_gettid));
}

void describe_ranges(StoppedThread* thread, uintptr_t sp) {
  for (MemoryRange& range : thread->ranges) range = MemoryRange{0, 0};
  stack_capture_thread_init();
  uintptr_t low = 0, high = 0;
  bool known = stack_capture_thread_bounds(&low, &high);
  sp &= ~uintptr_t{7};
  if (known && sp >= low && sp < high) {
    // The main thread's stack ends at __libc_stack_end, but above it, in the same
    // mapping, lie argv, the environment and the auxiliary vector: a program may store a
    // block in argv[i] (ld does), and nothing else need point to it.
    uintptr_t start = 0, end = 0;
    bool writable = false;
    if (current_tid() == process_id() && process_find_mapping(high - 1, &start, &end, &writable) &&
        writable && end > high)
      high = end;
    thread->ranges[0] = MemoryRange{sp, high};
  } else {
    // Not on its own stack: what lies above the stack pointer in its mapping, and the
    // thread's own stack whole (no part of it can be known dead).
    uintptr_t start = 0, end = 0;
    bool writable = false;
    if (process_find_mapping(sp, &start, &end, &writable) && writable)
      thread->ranges[0] = MemoryRange{sp, end};
    // The main thread's bounds reach down as far as RLIMIT_STACK allows; only the part
    // the stack has grown into is mapped.
    if (known && process_find_mapping(high - 1, &start, &end, &writable) && writable)
      thread->ranges[1] = MemoryRange{low > start ? low : start, high};
  }
  // The thread pointer is the descriptor; static TLS lies just below it. For threads of
  // pthread_create both sit at the top of the stack's mapping, above the stack's bounds;
  // the main thread's are in a mapping the loader made. Found at every stop, within the
  // mapping as it is then: what merged into it may have been unmapped since.
  uintptr_t self = reinterpret_cast<uintptr_t>(pthread_self());
  uintptr_t start = 0, end = 0;
  bool writable = false;
  if (process_find_mapping(self, &start, &end, &writable) && writable) {
    if (known && start <= low && high <= end) start = high;  // above the stack
    thread->ranges[2] = descriptor_range_within(self, start, end);
  }
}

void describe_registers(StoppedThread* thread, const ucontext_t* context) {
  memset(thread->registers, 0, sizeof thread->registers);
  static_assert(NGREG <= 23, "general registers fit");
  for (int i = 0; i < NGREG; ++i)
    thread->registers[i] = static_cast<uintptr_t>(context->uc_mcontext.gregs[i]);
  if (const struct _libc_fpstate* vector = context->uc_mcontext.fpregs)
    memcpy(&thread->registers[23], vector->_xmm, sizeof vector->_xmm);
}

void stop_handler(int, siginfo_t*, void* raw_context) {
  if (g_stopping.load(std::memory_order_acquire) == 0) return;  // a late or stray signal
  int saved_errno = errno;
  g_in_handler.fetch_add(1, std::memory_order_acq_rel);
  uint32_t epoch = g_epoch.load(std::memory_order_acquire);
  int index = g_claimed.fetch_add(1, std::memory_order_acq_rel);
  if (index < kMaxThreads) {
    Slot& slot = g_slots[index];
    const ucontext_t* context = static_cast<const ucontext_t*>(raw_context);
    slot.thread.tid = current_tid();
    slot.thread.responded = true;
    describe_registers(&slot.thread, context);
    describe_ranges(&slot.thread, static_cast<uintptr_t>(context->uc_mcontext.gregs[REG_RSP]));
    slot.ready.store(1, std::memory_order_release);
  }
  g_answered.fetch_add(1, std::memory_order_acq_rel);
  futex(&g_answered, FUTEX_WAKE_PRIVATE, 1, nullptr);
  while (g_epoch.load(std::memory_order_acquire) == epoch)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_epoch), FUTEX_WAIT_PRIVATE, epoch, nullptr,
            nullptr, 0);
  g_in_handler.fetch_sub(1, std::memory_order_acq_rel);
  errno = saved_errno;
}

// The handler is installed for each stop, and the program's own handler of the signal, if
// it has one, is put back once the world resumes: a program that uses the signal itself
// (Boehm GC and Mono stop their threads with SIGPWR) lost its handler to tally's for good
// at its first leak check. With no handler of the program's (the default action of SIGPWR
// ends the process) tally's stays, to take a late signal: one that a thread blocking it
// during the stop receives when it unblocks.
bool install_handler() {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = stop_handler;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&action.sa_mask);  // nothing else runs on top of a stopped thread
  struct sigaction previous;
  if (sigaction(g_signal, &action, &previous) != 0) return false;
  bool previous_is_ours = (previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction == stop_handler;
  if (!previous_is_ours) g_program_action = previous;
  g_handler_installed = true;
  return true;
}

bool signalled(int tid) {
  for (int i = 0; i < g_signalled_count; ++i)
    if (g_signalled[i] == tid || g_signalled[i] == -tid) return true;
  return false;
}

bool excluded_tid(int tid, const int* excluded, int count) {
  for (int i = 0; i < count; ++i)
    if (excluded[i] == tid) return true;
  return false;
}

// Signals every listed thread not signalled yet; returns how many were signalled now.
int signal_new_threads(int self, const int* excluded, int excluded_count) {
  int fd = static_cast<int>(
      syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) {
    g_threads_unlisted = true;
    return 0;
  }
  int pid = process_id();
  int fresh = 0;
  alignas(8) char buffer[4096];
  while (!g_handler_failed) {
    long got = syscall(SYS_getdents64, fd, buffer, sizeof buffer);
    if (got <= 0) break;
    for (long offset = 0; offset < got && !g_handler_failed;) {
      // struct linux_dirent64: inode (8), offset (8), record length (2), type (1), name
      unsigned short length;
      memcpy(&length, buffer + offset + 16, sizeof length);
      const char* name = buffer + offset + 19;
      offset += length;
      if (name[0] < '0' || name[0] > '9') continue;
      int tid = 0;
      for (const char* c = name; *c >= '0' && *c <= '9'; ++c) tid = tid * 10 + (*c - '0');
      if (tid == self || excluded_tid(tid, excluded, excluded_count) || signalled(tid)) continue;
      if (g_signalled_count == kMaxThreads) continue;
      // Installed only now that there is a thread to stop: a process with one thread makes
      // no sigaction call at all. Sandboxes forbid it: sshd's pre-login child (seccomp)
      // was killed by SIGSYS when the check at its exit installed the handler.
      if (!g_handler_ready) {
        g_handler_ready = install_handler();
        g_handler_failed = !g_handler_ready;
        if (g_handler_failed) break;
      }
      if (syscall(SYS_tgkill, pid, tid, g_signal) == 0) {
        g_signalled[g_signalled_count++] = tid;
        ++fresh;
      }
    }
  }
  syscall(SYS_close, fd);
  return fresh;
}

// A thread that blocks the stop signal cannot be stopped, but while it waits in a system
// call its stack from the kernel's record of its stack pointer up does not change (the
// call has not returned): that much is scanned, which is where a thread pool's worker
// keeps what it is working on. Its registers stay unknown.
void describe_waiting_stack(StoppedThread* thread) {
  char path[64];
  Formatter name(path, sizeof path);
  name.text("/proc/self/task/").decimal(static_cast<uint64_t>(thread->tid)).text("/syscall");
  path[name.length() < sizeof path ? name.length() : sizeof path - 1] = '\0';
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return;
  char text[256];
  long got = syscall(SYS_read, fd, text, sizeof text - 1);
  syscall(SYS_close, fd);
  if (got <= 0) return;
  text[got] = '\0';
  // "NR arg1 ... arg6 SP PC" while in a system call; "running" or "-1 SP PC" otherwise.
  if (text[0] < '0' || text[0] > '9') return;
  const char* fields[9];
  int count = 0;
  for (char* c = text; *c && count < 9;) {
    while (*c == ' ') ++c;
    if (!*c || *c == '\n') break;
    fields[count++] = c;
    while (*c && *c != ' ' && *c != '\n') ++c;
  }
  if (count != 9) return;
  uintptr_t stack_pointer = 0;
  const char* digit = fields[7];
  if (digit[0] != '0' || digit[1] != 'x') return;
  for (digit += 2; (*digit >= '0' && *digit <= '9') || (*digit >= 'a' && *digit <= 'f'); ++digit)
    stack_pointer = stack_pointer * 16 +
                    static_cast<uintptr_t>(*digit <= '9' ? *digit - '0' : *digit - 'a' + 10);
  uintptr_t start = 0, end = 0;
  bool writable = false;
  if (!process_find_mapping(stack_pointer, &start, &end, &writable) || !writable) return;
  thread->ranges[0] = MemoryRange{stack_pointer & ~uintptr_t{7}, end};
}

bool answered(int tid) {
  int claimed = g_claimed.load(std::memory_order_acquire);
  for (int i = 0; i < claimed && i < kMaxThreads; ++i)
    if (g_slots[i].ready.load(std::memory_order_acquire) && g_slots[i].thread.tid == tid)
      return true;
  return false;
}

// Waits until every signalled thread answered or is gone; the ones that stay silent for
// kAnswerTimeout get a slot that says so.
void wait_for_answers() {
  uint32_t started = monotonic_milliseconds();
  int pid = process_id();
  for (;;) {
    int answers = g_answered.load(std::memory_order_acquire);
    int missing = 0;
    // A thread slow to answer may be a zombie: the main thread after pthread_exit stays
    // listed, and takes signals, until the process ends, but never runs a handler. Asked
    // only of the slow ones, since it costs a read of /proc.
    bool ask_for_zombies = monotonic_milliseconds() - started > kZombieQuestionMilliseconds;
    if (answers < g_signalled_count) {
      for (int i = 0; i < g_signalled_count; ++i) {
        int tid = g_signalled[i];
        if (tid <= 0 || answered(tid)) continue;
        if (syscall(SYS_tgkill, pid, tid, 0) != 0) {  // exited meanwhile
          g_signalled[i] = 0;
          continue;
        }
        if (ask_for_zombies && process_thread_is_zombie(tid)) {
          g_signalled[i] = -tid;  // still listed: signalled() must keep knowing it
          continue;
        }
        ++missing;
      }
    }
    if (missing == 0) return;
    if (monotonic_milliseconds() - started > kAnswerTimeoutMilliseconds) {
      for (int i = 0; i < g_signalled_count; ++i) {
        int tid = g_signalled[i];
        if (tid <= 0 || answered(tid)) continue;
        int index = g_claimed.fetch_add(1, std::memory_order_acq_rel);
        if (index >= kMaxThreads) break;
        Slot& slot = g_slots[index];
        memset(&slot.thread, 0, sizeof slot.thread);
        slot.thread.tid = tid;
        slot.thread.responded = false;
        describe_waiting_stack(&slot.thread);
        slot.ready.store(1, std::memory_order_release);
        g_signalled[i] = 0;
      }
      return;
    }
    timespec pause{0, 10 * 1000 * 1000};
    futex(&g_answered, FUTEX_WAIT_PRIVATE, answers, &pause);
  }
}

}  // namespace

void world_set_signal(int signal_number) {
  if (signal_number > 0 && signal_number < 65 && !g_handler_installed) g_signal = signal_number;
}

bool world_stop(const int* excluded, int excluded_count) {
  if (!g_slots) {
    g_slots = static_cast<Slot*>(os_map(sizeof(Slot) * kMaxThreads));
    if (!g_slots) return false;
  }
  g_handler_ready = false;
  g_handler_failed = false;
  g_threads_unlisted = false;
  for (int i = 0; i < kMaxThreads && g_slots[i].ready.load(std::memory_order_relaxed); ++i)
    g_slots[i].ready.store(0, std::memory_order_relaxed);
  g_claimed.store(0, std::memory_order_relaxed);
  g_answered.store(0, std::memory_order_relaxed);
  g_signalled_count = 0;
  g_stopping.store(1, std::memory_order_seq_cst);
  int self = current_tid();
  while (signal_new_threads(self, excluded, excluded_count) > 0) wait_for_answers();
  // No stop if the stop signal's handler could not be installed (that happens before the
  // first thread is signalled, so none was), or if the threads could not be listed (a sandbox
  // refuses /proc) in a process that has ever had more than one: their stacks would go
  // unscanned, and what only they point to would be reported as leaked.
  if (g_handler_failed || (g_threads_unlisted && !__libc_single_threaded)) {
    world_resume();
    return false;
  }
  int claimed = g_claimed.load(std::memory_order_acquire);
  g_thread_count = claimed < kMaxThreads ? claimed : kMaxThreads;
  return true;
}

void world_resume() {
  g_stopping.store(0, std::memory_order_seq_cst);
  g_epoch.fetch_add(1, std::memory_order_acq_rel);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_epoch), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr,
          nullptr, 0);
  // Nobody may still be reading the slots or the epoch when the next stop begins.
  while (g_in_handler.load(std::memory_order_acquire) != 0) sched_yield();
  g_thread_count = 0;
  if (g_handler_ready && signal_action_runs_handler(g_program_action))
    sigaction(g_signal, &g_program_action, nullptr);
}

int world_thread_count() {
  return g_thread_count;
}

const StoppedThread* world_thread(int index) {
  if (index < 0 || index >= g_thread_count) return nullptr;
  if (!g_slots[index].ready.load(std::memory_order_acquire)) return nullptr;
  return &g_slots[index].thread;
}

namespace {

// libgcc's unwinder, reached through the copy glibc's backtrace() loads: looking a name
// up with dlsym in the global scope fails in C programs, and a failed lookup goes through
// dlerror's bookkeeping (see stack_capture.cc).
struct Unwinder {
  _Unwind_Reason_Code (*backtrace)(_Unwind_Trace_Fn, void*);
  uintptr_t (*get_ip)(struct _Unwind_Context*);
  uintptr_t (*get_cfa)(struct _Unwind_Context*);
  uintptr_t (*get_register)(struct _Unwind_Context*, int);
};

bool find_unwinder(Unwinder* unwinder) {
  void* frames[2];
  if (backtrace(frames, 2) <= 0) return false;  // loads libgcc_s if it can be loaded
  void* library = dlopen("libgcc_s.so.1", RTLD_NOLOAD | RTLD_NOW);
  if (!library) return false;
  unwinder->backtrace =
      reinterpret_cast<decltype(unwinder->backtrace)>(dlsym(library, "_Unwind_Backtrace"));
  unwinder->get_ip = reinterpret_cast<decltype(unwinder->get_ip)>(dlsym(library, "_Unwind_GetIP"));
  unwinder->get_cfa =
      reinterpret_cast<decltype(unwinder->get_cfa)>(dlsym(library, "_Unwind_GetCFA"));
  unwinder->get_register =
      reinterpret_cast<decltype(unwinder->get_register)>(dlsym(library, "_Unwind_GetGR"));
  dlclose(library);  // drops the NOLOAD reference only; backtrace's keeps the library loaded
  return unwinder->backtrace && unwinder->get_ip && unwinder->get_cfa && unwinder->get_register;
}

struct ExitSearch {
  const Unwinder* unwinder;
  ExitCallerState* state;
  bool previous_was_exit;
  int frames;
};

bool is_exit_function(uintptr_t return_address) {
  Dl_info info;
  return dladdr(reinterpret_cast<void*>(return_address - 1), &info) && info.dli_sname &&
         (strcmp(info.dli_sname, "exit") == 0 || strcmp(info.dli_sname, "quick_exit") == 0);
}

_Unwind_Reason_Code visit_frame(struct _Unwind_Context* context, void* argument) {
  ExitSearch* search = static_cast<ExitSearch*>(argument);
  if (++search->frames > 256) return _URC_END_OF_STACK;
  if (search->previous_was_exit) {
    // The unwinder has restored the callee-saved registers to their values in this frame,
    // exit's caller, at its call. DWARF numbers: rbx 3, rbp 6, r12-r15 12-15.
    static constexpr int kDwarfNumbers[ExitCallerState::kRegisters] = {3, 6, 12, 13, 14, 15};
    for (int i = 0; i < ExitCallerState::kRegisters; ++i)
      search->state->registers[i] = search->unwinder->get_register(context, kDwarfNumbers[i]);
    return _URC_NORMAL_STOP;
  }
  uintptr_t return_address = search->unwinder->get_ip(context);
  if (return_address && is_exit_function(return_address)) {
    search->previous_was_exit = true;
    // exit's canonical frame address is its caller's stack pointer before the call.
    search->state->stack_pointer = search->unwinder->get_cfa(context);
  }
  return _URC_NO_REASON;
}

}  // namespace

__attribute__((cold)) bool world_find_exit_caller(ExitCallerState* state) {
  memset(state, 0, sizeof *state);
  Unwinder unwinder;
  if (!find_unwinder(&unwinder)) return false;
  ExitSearch search{&unwinder, state, false, 0};
  unwinder.backtrace(visit_frame, &search);
  return state->stack_pointer != 0;
}

__attribute__((noinline)) void world_describe_self(StoppedThread* self,
                                                   const ExitCallerState* exit_caller) {
  ucontext_t context;
  getcontext(&context);
  self->tid = current_tid();
  self->responded = true;
  uintptr_t frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (exit_caller && exit_caller->stack_pointer) {
    // Everything below exit's caller is exit's own work and dead frames of functions that
    // returned long ago; the registers now hold values of those too.
    memset(self->registers, 0, sizeof self->registers);
    memcpy(self->registers, exit_caller->registers, sizeof exit_caller->registers);
    describe_ranges(self, exit_caller->stack_pointer);
  } else {
    describe_registers(self, &context);
    describe_ranges(self, frame);
  }
}

}  // namespace tally
