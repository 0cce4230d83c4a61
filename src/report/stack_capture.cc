// Stack capture: a bounded frame-pointer walk for hot paths, libgcc_s's unwinder (found at
// run time; libtally.so must not depend on libgcc_s) for reports.
#include "report/stack_capture.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "core/config.h"
#include "os/process.h"
#include "report/symbolizer.h"
#include "report/unwind_table.h"

extern "C" void* __libc_stack_end;  // the loader's: the main thread's initial stack pointer

namespace tally {
namespace {

// The ABI keeps the stack 16-byte aligned at calls, so every frame record
// (saved frame pointer, return address) pushed by a prologue is 16-byte aligned.
#if defined(__x86_64__) || defined(__aarch64__)
constexpr uintptr_t kFrameAlignment = 16;
#else
constexpr uintptr_t kFrameAlignment = sizeof(uintptr_t);
#endif
constexpr uintptr_t kFrameRecordBytes = 2 * sizeof(uintptr_t);
constexpr uintptr_t kMinCodeAddress = 4096;  // below this no return address can point
// The main thread's stack is the one within RLIMIT_STACK below __libc_stack_end; with no
// limit the kernel lays mappings out far from the stack, so any cap of this size works.
constexpr uintptr_t kMaxMainStack = uintptr_t{4} << 30;
constexpr uintptr_t kSandboxMainStack = uintptr_t{8} << 20;  // Linux's default RLIMIT_STACK

enum BoundsState : uint8_t { kUnknown = 0, kKnown, kComputing, kFailed };

struct ThreadStackBounds {
  uintptr_t low;
  uintptr_t high;
  BoundsState state;
};

__thread ThreadStackBounds t_bounds __attribute__((tls_model("initial-exec")));

// The main thread's stack: [__libc_stack_end - RLIMIT_STACK, __libc_stack_end).
void main_stack(uintptr_t* low, uintptr_t* high) {
  uintptr_t end = reinterpret_cast<uintptr_t>(__libc_stack_end);
  uintptr_t limit = kMaxMainStack;
  struct rlimit rl;
  if (process_in_sandbox()) {
    // getrlimit may be what kills a sandboxed process (sshd's pre-login child): the
    // usual limit then, which the walk's checks against the frame chain keep safe.
    limit = kSandboxMainStack;
  } else if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
             rl.rlim_cur < limit) {
    limit = rl.rlim_cur;
  }
  *low = end > limit ? end - limit : 0;
  *high = end;
}

// Fills t_bounds; `frame` is an address on the stack the caller runs on.
void compute_bounds(uintptr_t frame) {
  ThreadStackBounds& bounds = t_bounds;
  bounds.state = kComputing;
  bool main_thread = syscall(SYS_gettid) == syscall(SYS_getpid);
  uintptr_t main_low = 0, main_high = 0;
  if (main_thread) main_stack(&main_low, &main_high);
  if (main_thread && main_high != 0 && main_low <= frame && frame < main_high) {
    bounds.low = main_low;
    bounds.high = main_high;
    bounds.state = kKnown;
    return;
  }
  // A thread made by pthread_create has its descriptor (what pthread_self points to) at the
  // top of its stack block, above the stack and its static TLS, so the stack is the part of
  // the descriptor's mapping below it. That holds for stacks given with
  // pthread_attr_setstack too.
  uintptr_t self = reinterpret_cast<uintptr_t>(pthread_self());
  uintptr_t start = 0, end = 0;
  bool writable = false;
  bool found = process_find_mapping(self, &start, &end, &writable) && writable && start < self;
  if (found && (!main_thread || (start <= frame && frame < self))) {
    // (A process forked from a thread other than main runs on that thread's stack.)
    bounds.low = start;
    bounds.high = self;
    bounds.state = kKnown;
  } else if (main_thread && main_high != 0) {
    // The main thread, first seen on an alternate stack: later captures walk the real one.
    bounds.low = main_low;
    bounds.high = main_high;
    bounds.state = kKnown;
  } else {
    bounds.state = kFailed;
  }
}

TALLY_INLINE bool readable_word(uintptr_t address, uintptr_t low, uintptr_t high) {
  return address >= low && address <= high - sizeof(uintptr_t) && (address & 7) == 0;
}

TALLY_INLINE uintptr_t load_word(uintptr_t address) {
  return *reinterpret_cast<const uintptr_t*>(address);
}

// How the walk reads the stack: plainly, or noting every word it read (for the memo of
// report/stack_recorder.h).
// A saved rbp matters to the walk only if a later step uses it (a CFA or a save slot
// addressed through rbp); in code without frame pointers rbp holds program data that
// changes from call to call. So a loaded rbp is noted only once it is used, and the
// start's rbp counts only if it is used before being replaced.
struct PlainLoads {
  TALLY_INLINE uintptr_t load(uintptr_t address) { return load_word(address); }
  TALLY_INLINE uintptr_t load_frame_pointer(uintptr_t address) { return load_word(address); }
  TALLY_INLINE void use_frame_pointer() {}
};

struct RecordedLoads {
  StackWalkReads* reads;
  uintptr_t pending_address = 0;  // where the current rbp came from; 0: the start
  uintptr_t pending_value = 0;
  bool pending = true;  // the current rbp has not been used since it was loaded

  TALLY_INLINE void note(uintptr_t address, uintptr_t value) {
    if (TALLY_LIKELY(reads->count < StackWalkReads::kCapacity)) {
      reads->address[reads->count] = address;
      reads->value[reads->count] = value;
      ++reads->count;
    } else {
      reads->overflowed = true;
    }
  }
  TALLY_INLINE uintptr_t load(uintptr_t address) {
    uintptr_t value = load_word(address);
    note(address, value);
    return value;
  }
  TALLY_INLINE uintptr_t load_frame_pointer(uintptr_t address) {
    uintptr_t value = load_word(address);
    pending_address = address;
    pending_value = value;
    pending = true;
    return value;
  }
  TALLY_INLINE void use_frame_pointer() {
    if (!pending) return;
    pending = false;
    if (pending_address == 0)
      reads->uses_start_frame_pointer = true;
    else
      note(pending_address, pending_value);
  }
};

// One step of the walk: from the frame whose return address is `state->pc` (with the stack
// and frame pointers it will have once that return is taken) to its caller. Every read is
// checked against [low, high) first, so a wrong rule or a garbage rbp ends the walk
// instead of faulting.
template <typename Loads>
TALLY_INLINE bool step_by_frame_pointer(StackWalkStart* state, uintptr_t high, Loads& loads) {
  uintptr_t record = state->bp;
  loads.use_frame_pointer();
  if (record < state->sp || record > high - kFrameRecordBytes ||
      (record & (kFrameAlignment - 1)) != 0)
    return false;
  state->bp = loads.load_frame_pointer(record);
  state->pc = loads.load(record + sizeof(uintptr_t));
  state->sp = record + kFrameRecordBytes;
  return true;
}

template <typename Loads>
TALLY_INLINE bool step(StackWalkStart* state, uintptr_t low, uintptr_t high, Loads& loads) {
  UnwindRule rule = unwind_rule_for(state->pc);
  if (rule.kind() == UnwindRule::kOutermost) return false;
  if (rule.kind() == UnwindRule::kUnknown) return step_by_frame_pointer(state, high, loads);
  uintptr_t cfa;
  switch (rule.base()) {
    case UnwindRule::kStackPointer:
      cfa = state->sp + static_cast<uintptr_t>(rule.cfa_offset());
      break;
    case UnwindRule::kFramePointer:
      loads.use_frame_pointer();
      cfa = state->bp + static_cast<uintptr_t>(rule.cfa_offset());
      break;
    default: {
      loads.use_frame_pointer();
      uintptr_t slot = state->bp + static_cast<uintptr_t>(rule.cfa_offset());
      if (!readable_word(slot, low, high)) return false;
      cfa = loads.load(slot);
      break;
    }
  }
  // The return address sits just below the CFA, which lies above this frame's stack.
  if (cfa < state->sp + sizeof(uintptr_t) || !readable_word(cfa - sizeof(uintptr_t), low, high))
    return false;
  uintptr_t bp = state->bp;
  if (rule.saved() != UnwindRule::kUnchanged) {
    if (rule.saved() == UnwindRule::kAtFramePointer) loads.use_frame_pointer();
    uintptr_t slot = (rule.saved() == UnwindRule::kAtCfa ? cfa : state->bp) +
                     static_cast<uintptr_t>(rule.saved_offset());
    if (!readable_word(slot, low, high)) return false;
    bp = loads.load_frame_pointer(slot);
  }
  state->pc = loads.load(cfa - sizeof(uintptr_t));
  state->sp = cfa;
  state->bp = bp;
  return true;
}

template <typename Loads>
TALLY_INLINE int walk(StackWalkStart state, uintptr_t* frames, uintptr_t* stack_pointers,
                      int capacity, int skip_frames, Loads& loads) {
  uintptr_t low = t_bounds.low, high = t_bounds.high;
  int count = 0;
  for (;;) {
    if (state.pc < kMinCodeAddress) break;
    if (skip_frames > 0) {
      --skip_frames;
    } else {
      if (stack_pointers) stack_pointers[count] = state.sp;
      frames[count++] = state.pc;
      if (count == capacity) break;
    }
    if (!step(&state, low, high, loads)) break;
  }
  return count;
}

}  // namespace

bool stack_walk_start_at(uintptr_t frame_address, StackWalkStart* start) {
  const ThreadStackBounds& bounds = t_bounds;
  if (TALLY_UNLIKELY(bounds.state != kKnown)) {
    if (bounds.state == kUnknown) compute_bounds(frame_address);
  }
  if (TALLY_UNLIKELY(bounds.state != kKnown || frame_address < bounds.low ||
                     frame_address > bounds.high - kFrameRecordBytes || (frame_address & 7) != 0))
    return false;
  // [fp] is the caller's frame pointer, [fp + 8] the return address into the caller, and
  // the caller's stack pointer is fp + 16 once it returns.
  start->pc = load_word(frame_address + sizeof(uintptr_t));
  start->sp = frame_address + kFrameRecordBytes;
  start->bp = load_word(frame_address);
  return true;
}

int stack_walk(const StackWalkStart& start, uintptr_t* frames, int capacity,
               StackWalkReads* reads) {
  if (capacity <= 0) return 0;
  if (!reads) {
    PlainLoads loads;
    return walk(start, frames, nullptr, capacity, 0, loads);
  }
  reads->count = 0;
  reads->overflowed = false;
  reads->uses_start_frame_pointer = false;
  RecordedLoads loads{reads};
  return walk(start, frames, nullptr, capacity, 0, loads);
}

int stack_walk_with_stack_pointers(const StackWalkStart& start, uintptr_t* frames,
                                   uintptr_t* stack_pointers, int capacity) {
  if (capacity <= 0) return 0;
  PlainLoads loads;
  return walk(start, frames, stack_pointers, capacity, 0, loads);
}

bool stack_walk_reads_unchanged(const StackWalkReads& reads) {
  if (reads.overflowed) return false;
  // Independent loads, so they overlap: far cheaper than the dependent chain of a walk.
  // Tested four at a time, from the innermost frames out, with an exit after each four:
  // entries of the memo that share a start differ from the first frame where their callers
  // part, and a test of such an entry (debug mode records allocations and frees from many
  // callers at one depth) ends there instead of reading all of its words.
  constexpr int kGroup = 4;
  int full_groups_end = reads.count & ~(kGroup - 1);
  int i = 0;
  for (; i < full_groups_end; i += kGroup) {
    uintptr_t differences = (load_word(reads.address[i]) ^ reads.value[i]) |
                            (load_word(reads.address[i + 1]) ^ reads.value[i + 1]) |
                            (load_word(reads.address[i + 2]) ^ reads.value[i + 2]) |
                            (load_word(reads.address[i + 3]) ^ reads.value[i + 3]);
    if (differences != 0) return false;
  }
  uintptr_t differences = 0;
  for (; i < reads.count; ++i) differences |= load_word(reads.address[i]) ^ reads.value[i];
  return differences == 0;
}

__attribute__((noinline)) int stack_capture_fast(uintptr_t* frames, int capacity, int skip_frames) {
  if (capacity <= 0) return 0;
  // This function keeps a frame pointer (the runtime is built with -fno-omit-frame-pointer
  // and it takes its own frame address); from its caller on the unwind tables lead.
  StackWalkStart start;
  if (TALLY_UNLIKELY(
          !stack_walk_start_at(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)), &start))) {
    // Unknown bounds or a foreign stack: only our own return address is safe to read.
    if (skip_frames > 0) return 0;
    frames[0] = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
    return 1;
  }
  PlainLoads loads;
  return walk(start, frames, nullptr, capacity, skip_frames, loads);
}

void stack_capture_thread_init() {
  if (t_bounds.state == kUnknown)
    compute_bounds(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)));
}

bool stack_capture_thread_bounds(uintptr_t* low, uintptr_t* high) {
  if (t_bounds.state != kKnown) return false;
  *low = t_bounds.low;
  *high = t_bounds.high;
  return true;
}

// --- The unwinder -----------------------------------------------------------------------

// The unwinder is glibc's backtrace(): it reads unwind tables (through libgcc_s, which it
// loads with the C library's internal loader the first time) and, unlike looking up
// _Unwind_Backtrace with dlsym, never goes through dlerror's bookkeeping, whose error
// strings glibc 2.36 was seen freeing twice when a lookup fails.

__attribute__((noinline)) int stack_capture_unwind(uintptr_t* frames, int capacity,
                                                   int skip_frames) {
  if (capacity <= 0) return 0;
  constexpr int kMaxRaw = 256;
  void* raw[kMaxRaw];
  int skip = (skip_frames > 0 ? skip_frames : 0) + 1;  // +1: this function's own frame
  int wanted = capacity + skip < kMaxRaw ? capacity + skip : kMaxRaw;
  int count = backtrace(raw, wanted);
  int stored = 0;
  for (int i = skip; i < count && stored < capacity; ++i) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(raw[i]);
    if (pc < kMinCodeAddress) break;
    frames[stored++] = pc;
  }
  // Keeps the call above from becoming a tail call, which would drop our frame.
  __asm__ volatile("" ::: "memory");
  return stored;
}

__attribute__((noinline)) int stack_capture(uintptr_t* frames, int capacity,
                                            uintptr_t first_user_pc) {
  if (capacity <= 0) return 0;
  constexpr int kExtra = 16;  // room for tally's own frames above first_user_pc
  uintptr_t raw[kMaxReportFrames + kExtra];
  int wanted =
      capacity + kExtra < kMaxReportFrames + kExtra ? capacity + kExtra : kMaxReportFrames + kExtra;
  int count = stack_capture_unwind(raw, wanted, 0);
  if (count == 0) count = stack_capture_fast(raw, wanted, 0);
  int first = 0;
  if (first_user_pc) {
    for (int i = 0; i < count; ++i) {
      if (raw[i] == first_user_pc) {
        first = i;
        break;
      }
    }
  }
  int stored = 0;
  for (int i = first; i < count && stored < capacity; ++i) frames[stored++] = raw[i];
  return stored;
}

int stack_format_frame(Formatter& out, int number, uintptr_t pc) {
  return symbolizer_format_frame(out, number, stack_frame_pc(pc));
}

void stack_format_location(Formatter& out, uintptr_t pc) {
  symbolizer_format_location(out, stack_frame_pc(pc));
}

}  // namespace tally
