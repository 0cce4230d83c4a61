// Stack capture, three ways, from cheapest to most thorough:
//
//   stack_capture_fast    a walk led by the unwind tables (report/unwind_table.h, one
//                         cached rule per return address) and by frame pointers where
//                         there are no tables: no allocation, no lock, no fault. For hot
//                         paths (every malloc/free), through code with or without frame
//                         pointers.
//   stack_capture_unwind  the unwinder of libgcc_s (found at run time, never linked): reads
//                         unwind tables, so it sees through code built without frame
//                         pointers. Takes the loader's lock; the first call may allocate.
//   stack_capture         for reports: the unwinder, then the frame walk if there is none.
//
// Every stack, whichever way captured (and as stored in the stack depot), holds *return
// addresses*: frame 0 is the address execution returns to in the function that called the
// capture function. The formatting functions below step back one byte into the call
// instruction, so that lines resolve to the call, and print that address, as ASan does.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "report/output.h"

namespace tally {

constexpr int kMaxReportFrames = 64;

// Walk of the calling thread's stack. Frame 0 is the return address into the function
// that called stack_capture_fast; `skip_frames` frames are dropped from the start.
// Returns the number of frames stored (at most `capacity`).
//
// Safe anywhere, including inside malloc, in signal handlers and before any constructor
// has run: it never allocates, never locks, and reads only the current thread's stack
// between its own frame and the stack's top, validating every address it reads (aligned,
// strictly increasing, in bounds) and stopping at the first bad one, at a null return
// address, or where the tables say the stack ends. Code with neither tables nor frame
// pointers (some JIT code) ends the walk.
//
// The stack bounds are cached per thread, computed on the thread's first capture with
// system calls only (no allocation, no lock of the C library's): the main thread's from
// __libc_stack_end and RLIMIT_STACK, any other thread's from the mapping that holds its
// thread descriptor (pthread_self, at the top of its stack block), found in
// /proc/self/maps (tens of microseconds, once per thread; without /proc, captures outside
// the main thread return only frame 0). pthread_getattr_np is deliberately not used: it
// allocates while holding the thread's own lock, so a program calling it would deadlock
// in a malloc that captured a stack. A capture on a stack other than the thread's own
// (sigaltstack, coroutine) returns only frame 0, and so does one from a signal handler
// that interrupted the computation of the bounds.
int stack_capture_fast(uintptr_t* frames, int capacity, int skip_frames);

// The walk in parts, for callers that memoize walks (report/stack_recorder.h).
//
// Where a walk starts: the caller's state as seen from a tally function built with frame
// pointers. `frame_address` is that function's __builtin_frame_address(0). False when the
// thread's stack bounds are unknown or the frame is not on the thread's stack.
struct StackWalkStart {
  uintptr_t pc;  // the return address into the caller
  uintptr_t sp;  // the caller's stack pointer once that return is taken
  uintptr_t bp;  // the caller's rbp
};
bool stack_walk_start_at(uintptr_t frame_address, StackWalkStart* start);

// Every stack word a walk read and used, in order. A walk is a function of its start and
// of these words (the rules it follows depend only on return addresses), so while none of
// them has changed, walking again from the same start gives the same frames. A saved rbp
// that no later step used is left out, and so is the start's rbp unless it was used.
struct StackWalkReads {
  static constexpr int kCapacity = 96;
  int count;
  bool overflowed;  // more reads than kCapacity: the record cannot vouch for the walk
  bool uses_start_frame_pointer;
  uintptr_t address[kCapacity];
  uintptr_t value[kCapacity];
};

// Walks from `start` (frame 0 is start.pc); records its reads when `reads` is not null.
int stack_walk(const StackWalkStart& start, uintptr_t* frames, int capacity, StackWalkReads* reads);
// The same walk, noting each frame's stack pointer: stack_pointers[i] is the stack pointer
// of the function frames[i] returns into, once it is running again.
int stack_walk_with_stack_pointers(const StackWalkStart& start, uintptr_t* frames,
                                   uintptr_t* stack_pointers, int capacity);
// True if every word of `reads` still holds the value the walk read.
bool stack_walk_reads_unchanged(const StackWalkReads& reads);

// Unwinder-based capture (libgcc_s's _Unwind_Backtrace, looked up with dlsym, loaded with
// dlopen if the process has not loaded it). Same frame numbering as stack_capture_fast.
// Not for hot paths: the first call may allocate (dlsym/dlopen) and every call takes the
// loader's lock (dl_iterate_phdr), so never call it from a signal handler or with an
// allocator lock held. Returns 0 when no unwinder can be found.
int stack_capture_unwind(uintptr_t* frames, int capacity, int skip_frames);

// Computes and caches the calling thread's stack bounds now rather than on its first
// capture (optional; allocation-free like the capture itself).
void stack_capture_thread_init();
// The calling thread's stack as stack_capture_fast bounds it: [*low, *high). False when
// the bounds are unknown (not computed yet, or being computed by an outer call).
bool stack_capture_thread_bounds(uintptr_t* low, uintptr_t* high);

// Report-time capture: the unwinder, or the frame walk when there is no unwinder. The
// frames above `first_user_pc` (a return address; tally's own frames) are dropped when it
// is found. Returns the number of frames stored.
int stack_capture(uintptr_t* frames, int capacity, uintptr_t first_user_pc);

// The address to symbolize and print for a captured frame (a return address): one byte
// back, inside the call instruction, so that the line is the call's.
inline uintptr_t stack_frame_pc(uintptr_t return_address) {
  return return_address > 0 ? return_address - 1 : 0;
}

// Appends the lines of frame `number` for the return address `pc`, symbolized (see
// report/symbolizer.h): one line, or one per inlined function. Returns the number of the
// next frame. Report time only.
int stack_format_frame(Formatter& out, int number, uintptr_t pc);
// Appends the SUMMARY location of the return address `pc`: `FILE:LINE in FUNCTION`, or
// `(MODULE+0xOFFSET) in FUNCTION`, or `(MODULE+0xOFFSET)`. Report time only.
void stack_format_location(Formatter& out, uintptr_t pc);

}  // namespace tally
