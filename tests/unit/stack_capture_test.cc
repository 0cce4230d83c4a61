// Stack capture: the frame-pointer walk returns the callers in order, never faults on a
// corrupt frame-pointer chain (garbage in rbp, fake frames, signal handlers, alternate and
// tiny stacks), agrees with the unwinder, and is cheap.
#include "report/stack_capture.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

namespace tally {
namespace {

// Whatever the build's flags, a function that makes a variable-sized allocation keeps a
// frame pointer (GCC and clang both need one to address its frame), so the helpers below
// always have frame records for the walk to follow.
#define KEEP_FRAME_POINTER()                                      \
  do {                                                            \
    volatile size_t keep_size = 16;                               \
    char* keep = static_cast<char*>(__builtin_alloca(keep_size)); \
    __asm__ volatile("" : : "r"(keep) : "memory");                \
  } while (0)
// Placed after a call, keeps it from becoming a tail call (which would drop a frame).
#define NO_TAIL_CALL() __asm__ volatile("" ::: "memory")

constexpr int kCapacity = 64;

struct Capture {
  uintptr_t frames[kCapacity];
  int count = 0;
  int skip = 0;
  int capacity = kCapacity;
  bool unwind = false;
  uintptr_t leaf_return = 0;    // where capture_leaf returns to (in capture_middle)
  uintptr_t middle_return = 0;  // in capture_outer
  uintptr_t outer_return = 0;   // in the caller of capture_outer
};

__attribute__((noinline)) void capture_leaf(Capture* capture) {
  KEEP_FRAME_POINTER();
  capture->leaf_return = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  capture->count = capture->unwind
                       ? stack_capture_unwind(capture->frames, capture->capacity, capture->skip)
                       : stack_capture_fast(capture->frames, capture->capacity, capture->skip);
  NO_TAIL_CALL();
}

__attribute__((noinline)) void capture_middle(Capture* capture) {
  KEEP_FRAME_POINTER();
  capture->middle_return = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  capture_leaf(capture);
  NO_TAIL_CALL();
}

__attribute__((noinline)) void capture_outer(Capture* capture) {
  KEEP_FRAME_POINTER();
  capture->outer_return = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  capture_middle(capture);
  NO_TAIL_CALL();
}

bool inside_capture_leaf(uintptr_t pc) {
  uintptr_t start = reinterpret_cast<uintptr_t>(&capture_leaf);
  return pc > start && pc < start + 512;
}

void expect_caller_frames(const Capture& capture) {
  ASSERT_GE(capture.count, 4);
  EXPECT_TRUE(inside_capture_leaf(capture.frames[0]));
  EXPECT_EQ(capture.frames[1], capture.leaf_return);
  EXPECT_EQ(capture.frames[2], capture.middle_return);
  EXPECT_EQ(capture.frames[3], capture.outer_return);
}

TEST(StackCaptureFast, ReturnsTheCallersInOrder) {
  Capture capture;
  capture_outer(&capture);
  expect_caller_frames(capture);
}

TEST(StackCaptureFast, SkipsFramesAndRespectsCapacity) {
  Capture capture;
  capture.skip = 1;
  capture_outer(&capture);
  ASSERT_GE(capture.count, 3);
  EXPECT_EQ(capture.frames[0], capture.leaf_return);
  EXPECT_EQ(capture.frames[1], capture.middle_return);

  Capture two;
  two.capacity = 2;
  capture_outer(&two);
  EXPECT_EQ(two.count, 2);
  EXPECT_EQ(two.frames[1], two.leaf_return);

  uintptr_t none[1];
  EXPECT_EQ(stack_capture_fast(none, 0, 0), 0);
  EXPECT_EQ(stack_capture_fast(none, 1, 1000), 0);
}

TEST(StackCaptureFast, KnowsTheMainThreadStack) {
  uintptr_t frames[4];
  stack_capture_fast(frames, 4, 0);
  uintptr_t low = 0, high = 0;
  ASSERT_TRUE(stack_capture_thread_bounds(&low, &high));
  uintptr_t here = reinterpret_cast<uintptr_t>(&low);
  EXPECT_LT(low, here);
  EXPECT_LT(here, high);
}

TEST(StackCaptureUnwind, AgreesWithTheFrameWalk) {
  Capture capture;
  capture.unwind = true;
  capture_outer(&capture);
  expect_caller_frames(capture);

  Capture skipped;
  skipped.unwind = true;
  skipped.skip = 2;
  capture_outer(&skipped);
  ASSERT_GE(skipped.count, 2);
  EXPECT_EQ(skipped.frames[0], skipped.middle_return);
  EXPECT_EQ(skipped.frames[1], skipped.outer_return);
}

__attribute__((noinline)) int report_capture(uintptr_t* frames, uintptr_t first_user_pc) {
  KEEP_FRAME_POINTER();
  int count = stack_capture(frames, kMaxReportFrames, first_user_pc);
  NO_TAIL_CALL();
  return count;
}

TEST(StackCapture, DropsTheFramesAboveTheFirstUserFrame) {
  uintptr_t frames[kMaxReportFrames];
  // The return address of report_capture is the first frame to keep.
  Capture probe;
  capture_outer(&probe);
  int all = report_capture(frames, 0);
  ASSERT_GE(all, 2);
  uintptr_t caller = frames[1];  // frame 0 is inside report_capture
  int count = report_capture(frames, caller);
  ASSERT_GE(count, 1);
  EXPECT_EQ(frames[0], caller);
  EXPECT_EQ(count, all - 1);
}

// --- A corrupt frame-pointer chain ------------------------------------------------------

// call_with_frame_pointer(function, argument, fake): calls function(argument) with rbp (or
// x29) set to `fake`, as code built without frame pointers may leave it.
extern "C" void call_with_frame_pointer(void (*function)(void*), void* argument, uintptr_t fake);
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".p2align 4\n"
    "call_with_frame_pointer:\n"
    "  push %rbp\n"
    "  push %rbx\n"
    "  sub $8, %rsp\n"  // 16-byte alignment at the call
    "  mov %rdx, %rbp\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  call *%rax\n"
    "  add $8, %rsp\n"
    "  pop %rbx\n"
    "  pop %rbp\n"
    "  ret\n");
constexpr bool kCanFakeFramePointer = true;
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".p2align 4\n"
    "call_with_frame_pointer:\n"
    "  stp x29, x30, [sp, #-16]!\n"
    "  mov x29, x2\n"
    "  mov x3, x0\n"
    "  mov x0, x1\n"
    "  blr x3\n"
    "  ldp x29, x30, [sp], #16\n"
    "  ret\n");
constexpr bool kCanFakeFramePointer = true;
#else
extern "C" void call_with_frame_pointer(void (*function)(void*), void* argument, uintptr_t) {
  function(argument);
}
constexpr bool kCanFakeFramePointer = false;
#endif

struct GarbageCapture {
  uintptr_t frames[kCapacity];
  int count;
};

__attribute__((noinline)) void capture_into(void* argument) {
  KEEP_FRAME_POINTER();
  GarbageCapture* capture = static_cast<GarbageCapture*>(argument);
  capture->count = stack_capture_fast(capture->frames, kCapacity, 0);
  NO_TAIL_CALL();
}

// Every kind of bad frame pointer the walk must refuse without touching it (or touch only
// where it is known to be mapped). Returns the number of cases run.
int capture_with_garbage_frame_pointers() {
  uintptr_t low = 0, high = 0;
  uintptr_t probe[2];
  stack_capture_fast(probe, 2, 0);
  EXPECT_TRUE(stack_capture_thread_bounds(&low, &high));
  EXPECT_LT(low, reinterpret_cast<uintptr_t>(&low));
  EXPECT_LT(reinterpret_cast<uintptr_t>(&low), high);
  // Fake frame records in this frame, above the walk's start: a chain that points back
  // down, one that points to the top of the stack, and one with a null return address.
  alignas(16) uintptr_t fake[8];
  fake[0] = reinterpret_cast<uintptr_t>(&fake[0]) - 64;  // goes down: refused
  fake[1] = 0x1234;
  fake[2] = high - 16;  // the very top record: readable, then stop
  fake[3] = 0x5678;
  fake[4] = reinterpret_cast<uintptr_t>(&fake[6]);
  fake[5] = 0;  // null return address: stop
  fake[6] = high;
  fake[7] = 0x9abc;
  const uintptr_t cases[] = {
      0,
      1,
      8,
      0xdeadbeef,
      0xdeadbeef0,
      0x7ffffffff000,
      0xffff800000000000,
      ~uintptr_t{15},
      high,
      high - 8,
      high + 4096,
      low,
      low - 4096,
      reinterpret_cast<uintptr_t>(&fake[0]),
      reinterpret_cast<uintptr_t>(&fake[2]),
      reinterpret_cast<uintptr_t>(&fake[4]),
      reinterpret_cast<uintptr_t>(&fake[1]),  // misaligned
  };
  int run = 0;
  for (uintptr_t garbage : cases) {
    GarbageCapture capture;
    capture.count = -1;
    call_with_frame_pointer(capture_into, &capture, garbage);
    EXPECT_GE(capture.count, 2) << "fake frame pointer " << std::hex << garbage;
    EXPECT_LE(capture.count, kCapacity);
    for (int i = 0; i < capture.count; ++i) EXPECT_NE(capture.frames[i], 0u);
    ++run;
  }
  return run;
}

TEST(StackCaptureFast, NeverFaultsOnGarbageFramePointers) {
  if (!kCanFakeFramePointer) GTEST_SKIP() << "no frame-pointer trampoline for this machine";
  EXPECT_GT(capture_with_garbage_frame_pointers(), 10);
}

void* garbage_in_thread(void*) {
  return reinterpret_cast<void*>(static_cast<intptr_t>(capture_with_garbage_frame_pointers()));
}

TEST(StackCaptureFast, NeverFaultsOnGarbageFramePointersInAThread) {
  if (!kCanFakeFramePointer) GTEST_SKIP() << "no frame-pointer trampoline for this machine";
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, nullptr, garbage_in_thread, nullptr), 0);
  void* result = nullptr;
  pthread_join(thread, &result);
  EXPECT_GT(reinterpret_cast<intptr_t>(result), 10);
}

// A thread on a small stack of our own, with nothing mapped right above it: a walk that
// read one record past the stack's top would fault.
TEST(StackCaptureFast, StaysInsideATinyThreadStack) {
  if (!kCanFakeFramePointer) GTEST_SKIP() << "no frame-pointer trampoline for this machine";
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t stack_size = 64 * 1024;
  char* region = static_cast<char*>(mmap(nullptr, stack_size + 2 * page, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  // [guard][stack][hole]: both neighbours inaccessible.
  mprotect(region, page, PROT_NONE);
  munmap(region + page + stack_size, page);
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  ASSERT_EQ(pthread_attr_setstack(&attributes, region + page, stack_size), 0);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attributes, garbage_in_thread, nullptr), 0);
  void* result = nullptr;
  pthread_join(thread, &result);
  pthread_attr_destroy(&attributes);
  EXPECT_GT(reinterpret_cast<intptr_t>(result), 10);
  munmap(region, stack_size + page);
}

// --- Signal handlers --------------------------------------------------------------------

GarbageCapture g_signal_capture;

void capture_in_handler(int) {
  KEEP_FRAME_POINTER();
  g_signal_capture.count = stack_capture_fast(g_signal_capture.frames, kCapacity, 0);
  NO_TAIL_CALL();
}

void raise_signal(void* garbage_holder) {
  KEEP_FRAME_POINTER();
  // The handler runs on top of a frame whose saved frame pointer is garbage.
  call_with_frame_pointer([](void*) { raise(SIGUSR1); }, nullptr,
                          *static_cast<uintptr_t*>(garbage_holder));
  NO_TAIL_CALL();
}

void install_handler(bool on_alternate_stack) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = capture_in_handler;
  action.sa_flags = on_alternate_stack ? SA_ONSTACK : 0;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
}

TEST(StackCaptureFast, WorksInSignalHandlers) {
  if (!kCanFakeFramePointer) GTEST_SKIP() << "no frame-pointer trampoline for this machine";
  install_handler(false);
  for (uintptr_t garbage : {uintptr_t{0}, uintptr_t{0xdeadbeef0}, ~uintptr_t{15}}) {
    g_signal_capture.count = -1;
    raise_signal(&garbage);
    EXPECT_GE(g_signal_capture.count, 1);
  }

  // On an alternate signal stack (outside the thread's stack) only frame 0 is safe.
  stack_t alternate;
  alternate.ss_size = 64 * 1024;
  alternate.ss_sp =
      mmap(nullptr, alternate.ss_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  alternate.ss_flags = 0;
  ASSERT_NE(alternate.ss_sp, MAP_FAILED);
  ASSERT_EQ(sigaltstack(&alternate, nullptr), 0);
  install_handler(true);
  uintptr_t garbage = 0xdeadbeef0;
  g_signal_capture.count = -1;
  raise_signal(&garbage);
  EXPECT_EQ(g_signal_capture.count, 1);
  stack_t disable;
  memset(&disable, 0, sizeof disable);
  disable.ss_flags = SS_DISABLE;
  sigaltstack(&disable, nullptr);
  signal(SIGUSR1, SIG_DFL);
  munmap(alternate.ss_sp, alternate.ss_size);
}

// A thread whose first capture runs on an alternate signal stack: that capture gets one
// frame, and the thread's later captures on its own stack are whole.
void* first_capture_on_alternate_stack(void*) {
  stack_t alternate;
  alternate.ss_size = 64 * 1024;
  alternate.ss_sp =
      mmap(nullptr, alternate.ss_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  alternate.ss_flags = 0;
  sigaltstack(&alternate, nullptr);
  g_signal_capture.count = -1;
  raise(SIGUSR1);
  int on_alternate = g_signal_capture.count;
  Capture capture;
  capture_outer(&capture);
  expect_caller_frames(capture);
  stack_t disable;
  memset(&disable, 0, sizeof disable);
  disable.ss_flags = SS_DISABLE;
  sigaltstack(&disable, nullptr);
  munmap(alternate.ss_sp, alternate.ss_size);
  return reinterpret_cast<void*>(static_cast<intptr_t>(on_alternate));
}

TEST(StackCaptureFast, FirstCaptureOnAnAlternateStackDoesNotSpoilTheThread) {
  install_handler(true);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, nullptr, first_capture_on_alternate_stack, nullptr), 0);
  void* result = nullptr;
  pthread_join(thread, &result);
  EXPECT_EQ(reinterpret_cast<intptr_t>(result), 1);
  signal(SIGUSR1, SIG_DFL);
}

// --- Cost -------------------------------------------------------------------------------

void* first_capture(void* argument) {
  struct timespec start, end;
  uintptr_t frames[16];
  clock_gettime(CLOCK_MONOTONIC, &start);
  stack_capture_fast(frames, 16, 0);
  clock_gettime(CLOCK_MONOTONIC, &end);
  *static_cast<double*>(argument) = static_cast<double>(end.tv_sec - start.tv_sec) * 1e9 +
                                    static_cast<double>(end.tv_nsec - start.tv_nsec);
  return nullptr;
}

TEST(StackCaptureFast, CostOfAThreadsFirstCapture) {
  double total = 0;
  constexpr int kThreads = 20;
  for (int i = 0; i < kThreads; ++i) {
    double nanoseconds = 0;
    pthread_t thread;
    ASSERT_EQ(pthread_create(&thread, nullptr, first_capture, &nanoseconds), 0);
    pthread_join(thread, nullptr);
    total += nanoseconds;
  }
  printf("first stack_capture_fast of a thread (finds its stack): %.1f us\n",
         total / kThreads / 1000);
}

struct Deep {
  uintptr_t frames[16];
  int count;
  bool unwind;
  int repeat;
};

__attribute__((noinline)) void recurse_then_capture(Deep* deep, int depth) {
  KEEP_FRAME_POINTER();
  if (depth > 0) {
    recurse_then_capture(deep, depth - 1);
    NO_TAIL_CALL();
    return;
  }
  for (int i = 0; i < deep->repeat; ++i) {
    deep->count = deep->unwind ? stack_capture_unwind(deep->frames, 16, 0)
                               : stack_capture_fast(deep->frames, 16, 0);
    __asm__ volatile("" : : "r"(deep->frames) : "memory");
  }
}

double nanoseconds_per_capture(bool unwind, int repeat) {
  Deep deep{};
  deep.unwind = unwind;
  deep.repeat = repeat;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  recurse_then_capture(&deep, 24);
  clock_gettime(CLOCK_MONOTONIC, &end);
  EXPECT_EQ(deep.count, 16);
  double elapsed = static_cast<double>(end.tv_sec - start.tv_sec) * 1e9 +
                   static_cast<double>(end.tv_nsec - start.tv_nsec);
  return elapsed / repeat;
}

TEST(StackCaptureFast, CostOfSixteenFrames) {
  nanoseconds_per_capture(false, 1000);  // warm up
  double fast = nanoseconds_per_capture(false, 1000000);
  nanoseconds_per_capture(true, 100);
  double unwind = nanoseconds_per_capture(true, 20000);
  printf("stack_capture_fast, 16 frames: %.1f ns; stack_capture_unwind: %.1f ns\n", fast, unwind);
  RecordProperty("fast_ns", static_cast<int>(fast));
  RecordProperty("unwind_ns", static_cast<int>(unwind));
}

}  // namespace
}  // namespace tally
