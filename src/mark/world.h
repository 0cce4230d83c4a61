// Stopping the world: every thread of the process but the caller (and the marker's own
// helpers) is stopped in a signal handler that saves its registers and waits, so the
// marker can read stacks, registers and the heap while nothing changes them.
//
// Threads are found in /proc/self/task, read again after each round of signals until no
// new thread appears: a stopped thread cannot start another, so the listing converges, and
// every thread is stopped however it was made (pthread_create, raw clone, before tally
// was loaded) and whether or not it ever allocated.
//
// A stopped thread leaves behind its general and vector registers, its stack from the
// stack pointer to the top, and its static TLS and thread descriptor (where glibc keeps
// pthread_setspecific values and the pointer to the dynamic TLS blocks). A thread that
// does not answer within a second (it blocks the signal) is listed as unresponsive: with
// its stack from the stack pointer the kernel shows for a thread waiting in a system call
// (/proc/self/task/TID/syscall), else with no ranges; the caller says so in its report. Threads
// that exit while being stopped are dropped.
//
// The signal (option stop_signal, SIGPWR by default as in Boehm GC) keeps tally's handler
// once installed; a signal that arrives while no stop is in progress is ignored.
// Not reentrant: one stop at a time (the caller serializes).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

struct MemoryRange {
  uintptr_t low, high;  // [low, high); empty when low >= high
};

struct StoppedThread {
  int tid;
  // false: it never answered (it blocks the signal). Then the fields below are empty, or,
  // when it was waiting in a system call, ranges[0] is its stack from where it waits up
  // (its registers stay unknown).
  bool responded;
  // The stack from the stack pointer up; the thread's whole stack as well when it was
  // stopped on another one (an alternate signal stack, a coroutine's); its static TLS and
  // descriptor when they lie outside the stack (the main thread's do).
  static constexpr int kRanges = 3;
  MemoryRange ranges[kRanges];
  static constexpr int kRegisterWords = 23 + 32;  // general registers, then xmm0-15
  uintptr_t registers[kRegisterWords];
};

// Stops every other thread (the calling thread and `excluded` tids keep running). False if
// the signal cannot be used (then nothing is stopped).
bool world_stop(const int* excluded, int excluded_count);
void world_resume();

// The threads of the current stop (valid between world_stop and world_resume). A slot
// whose thread had not finished describing itself when the stop ended gives nullptr.
int world_thread_count();
const StoppedThread* world_thread(int index);

// Where the function that called exit() stood at the call: its stack pointer and the
// callee-saved registers (rbx, rbp, r12-r15) as they were then. Those registers are the
// only ones whose values outlive a call, and a pointer a caller keeps in one of them is
// live: exit's own frames saved it somewhere below the caller's stack pointer, in a slot
// a scan from there up does not see.
struct ExitCallerState {
  uintptr_t stack_pointer;  // 0: exit is not on this thread's stack
  static constexpr int kRegisters = 6;
  uintptr_t registers[kRegisters];
};

// Fills `state` from the unwind tables (libgcc's unwinder, which takes the loader's locks:
// call it before stopping the world). False when exit is not on the stack.
bool world_find_exit_caller(ExitCallerState* state);

// The calling thread's own roots, as a stopped thread would leave them: its registers now,
// its stack from here up, its TLS. With `exit_caller` (the thread is inside exit()), only
// the stack of exit's caller and above is live, and its callee-saved registers.
void world_describe_self(StoppedThread* self, const ExitCallerState* exit_caller);

// The signal the stop uses, 0 to 64; set from the option before the first stop.
void world_set_signal(int signal_number);

}  // namespace tally
