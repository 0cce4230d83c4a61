// Facts about the running process that reports and statistics need, gathered without
// allocating: pid, resident set size, the calling thread's number, a lock that is safe
// to take inside malloc.
#pragma once

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <atomic>

namespace tally {

int process_id();
// Finds the mapping that holds `address` in /proc/self/maps, read with raw system calls
// into a small buffer: no allocation and no lock of ours or of the C library's, so it is
// safe inside malloc and in signal handlers (pthread_getattr_np is not: it allocates while
// holding the thread's lock). False if no readable mapping holds it.
bool process_find_mapping(uintptr_t address, uintptr_t* start, uintptr_t* end, bool* writable);
// The same through the kernel's PROCMAP_QUERY (Linux 6.11): one ioctl instead of reading
// every line before the mapping (a debug-mode process has thousands: two per guarded
// block). kUnknown when the kernel cannot answer so.
enum class MappingAnswer { kFound, kNone, kUnknown };
struct MappingFlags {
  bool readable = false;
  bool writable = false;
};
MappingAnswer process_query_mapping(uintptr_t address, uintptr_t* start, uintptr_t* end,
                                    MappingFlags* flags);
// One line of /proc/self/maps: its range, whether it may be read and written, whether it
// is shared, and what backs it.
enum class MappingBacking : uint8_t {
  kAnonymous,  // no name, "[heap]" (the brk area) or "[anon:NAME]" (named by prctl)
  kFile,       // a path: a module, a mapped file, a memfd, shared memory
  kStack,      // "[stack]", the main thread's
  kKernel,     // any other "[...]": vdso, vvar, vsyscall
};
struct MappingLine {
  uintptr_t start;
  uintptr_t end;
  bool readable;
  bool writable;
  bool executable;
  bool shared;
  MappingBacking backing;
};
// Visits the lines of /proc/self/maps in address order until `visit` returns false; read
// with raw system calls into a small buffer, like process_find_mapping.
void process_for_each_mapping(bool (*visit)(const MappingLine& line, void* context), void* context);
// process_find_mapping without the query: reads the lines (kernels before 6.11).
bool process_find_mapping_by_reading(uintptr_t address, uintptr_t* start, uintptr_t* end,
                                     bool* writable);
// Copies [address, address + length) of this process into `buffer` through the kernel
// (process_vm_readv), so a page that would fault (PROT_NONE, a guard marker, unmapped)
// fails the copy instead of the caller: kCopied, kUnreadable, or kUnknown when the kernel
// or a sandbox refuses the call.
enum class CopyAnswer { kCopied, kUnreadable, kUnknown };
CopyAnswer process_copy_own_memory(uintptr_t address, void* buffer, size_t length);
// Whether a disposition runs a function of the program's (not SIG_DFL or SIG_IGN).
inline bool signal_action_runs_handler(const struct sigaction& action) {
  if (action.sa_flags & SA_SIGINFO) return action.sa_sigaction != nullptr;
  return action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN;
}
// True if thread `tid` of this process has exited but its entry stays: the main thread
// after pthread_exit stays a zombie until the whole process exits. It takes no signal.
bool process_thread_is_zombie(int tid);
// What a descriptor tally opened refers to, to tell later whether the number is still
// tally's. A program may close descriptors it does not know (daemons close all but 0-2)
// and open files of its own, which take the same numbers: writing to, or closing, such a
// number would reach the program's file.
struct DescriptorIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
};
DescriptorIdentity process_descriptor_identity(int fd);  // zeros if fd is not open
bool process_descriptor_is(int fd, const DescriptorIdentity& identity);
// True if the process is sandboxed: refused its own /proc/self/status, as sshd's
// pre-login child is (its seccomp filter answers openat with EACCES and kills the process
// for any call it does not list: clone, socketpair, rt_sigaction...). tally then starts no
// threads or child processes of its own (one marking thread, frames unsymbolized). A
// container's filter, which lets the status file be read, is no sandbox in this sense.
// A filter the program set through prctl makes it true as well. Once true, true for good
// (a filter cannot be removed).
bool process_in_sandbox();
// False once the program asked to filter its system calls (a seccomp filter, or no new
// privileges, which an unprivileged filter needs first; the prctl wrapper tells). Calls
// tally makes only to save work (mincore) are then left out: a filter that does not list
// them may kill the process with SIGSYS, and nothing can catch that. A filter in place
// before the process started (a container's) leaves them in: Docker's answers what it
// does not list with EPERM, which tally takes as "unknown". A cheap read, for hot paths.
bool process_may_make_optional_calls();
// The program is about to filter its calls (`installed`: it set a filter, and then
// process_in_sandbox() is true too: what the filter lists is unknown).
void process_note_system_call_filter(bool installed);
size_t process_resident_bytes();       // current RSS, 0 if unknown
size_t process_resident_peak_bytes();  // VmHWM, 0 if unknown
void write_all(int fd, const char* data, size_t length);

// Threads are numbered in the order they first call into tally; the main thread, which
// the loader's first malloc runs on, is T0.
extern __thread uint32_t t_thread_number_plus_one;
uint32_t assign_thread_number();
inline uint32_t current_thread_number() {
  uint32_t number = t_thread_number_plus_one;
  return __builtin_expect(number != 0, 1) ? number - 1 : assign_thread_number();
}

// After fork, in the child: every thread numbered so far except the calling one no longer
// exists here. Their stacks, which held pointers, are gone with them, so blocks they
// allocated are the parent's business, not the child's (the leak check leaves them out).
void process_threads_vanished_at_fork();
bool process_thread_vanished(uint32_t thread_number);
// True in a process forked from a parent that had other threads.
bool process_lost_threads_at_fork();

// True if `pc` lies in tally's own code: the shared library's text, or, when tally is
// linked from its archive, the section its code was moved to (see CMakeLists.txt), whose
// bounds the linker defines; in the shared library those stay null.
extern "C" char __ehdr_start[] __attribute__((visibility("hidden")));
extern "C" char etext[] __attribute__((visibility("hidden")));
extern "C" char __start_tally_text[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_tally_text[] __attribute__((weak, visibility("hidden")));
inline bool address_in_tally_code(uintptr_t pc) {
  uintptr_t start = reinterpret_cast<uintptr_t>(__start_tally_text);
  if (start) return pc >= start && pc < reinterpret_cast<uintptr_t>(__stop_tally_text);
  return pc >= reinterpret_cast<uintptr_t>(__ehdr_start) && pc < reinterpret_cast<uintptr_t>(etext);
}

// A coarse monotonic clock (a few ms resolution, vDSO, no system call) for purge delays.
uint32_t monotonic_milliseconds();
// The precise one (vDSO too), for measured costs: pauses, the guard pool's time budget.
uint64_t monotonic_nanoseconds();

// A test-and-test-and-set lock that yields to the scheduler under contention. Used only
// on slow paths (segment cache, heap list, large blocks, reports). Trivially constructible
// so globals need no constructor; `reset` serves the child after fork.
class SpinLock {
 public:
  void lock() {
    if (!flag_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  bool try_lock() { return !flag_.exchange(true, std::memory_order_acquire); }
  void unlock() { flag_.store(false, std::memory_order_release); }
  void reset() { flag_.store(false, std::memory_order_relaxed); }
  // After fork: the parent releases the lock it took before forking; the child, whose
  // other threads are gone, starts with it free.
  void release_after_fork(bool in_child) { in_child ? reset() : unlock(); }

 private:
  void lock_slow();
  std::atomic<bool> flag_;
};

class LockGuard {
 public:
  explicit LockGuard(SpinLock& lock) : lock_(lock) { lock_.lock(); }
  ~LockGuard() { lock_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace tally
