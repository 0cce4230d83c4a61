// The stack recorder: the memo answers a repeated call site with the id a walk gives,
// keeps the stacks of several callers that share a start (the same call site at the same
// stack depth), never answers one of them with another's id, and stays right when more
// stacks than it has entries take turns.
#include "report/stack_recorder.h"

#include <gtest/gtest.h>

#include <set>

#include "core/heap.h"
#include "tally.h"

namespace tally {
namespace {

#define OPAQUE(value) __asm__ volatile("" : : "r"(value) : "memory")

constexpr int kDepth = 30;

// Where every recording below starts: the memo's key is this function's return address
// into it and its stack pointer, the same for every path that calls it from a frame of
// the same size.
__attribute__((noinline)) StackId record_here(uintptr_t* frame) {
  *frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  StackId id = stack_record_current(kDepth);
  OPAQUE(id);
  return id;
}

// Callers of record_here with frames of one size, told apart only by their return
// addresses: each instantiation is its own function (the constant keeps the compiler from
// folding identical ones together), so their stacks differ above the shared start.
template <int kPath>
__attribute__((noinline)) StackId path(uintptr_t* frame) {
  StackId id = record_here(frame);
  OPAQUE(kPath);
  return id;
}

using PathFunction = StackId (*)(uintptr_t*);

template <int... kPaths>
std::vector<PathFunction> paths(std::integer_sequence<int, kPaths...>) {
  return {&path<kPaths>...};
}

StackRecorderStats stats_now() {
  return stack_recorder_stats_of(t_heap);
}

class StackRecorder : public testing::Test {
 protected:
  void SetUp() override {
    tally_free(tally_malloc(16));  // the calling thread's heap holds the memo
    ASSERT_NE(t_heap, nullptr);
  }
};

// Every call below goes through this one call site, so that the stacks of a caller are
// the same each time (a call from another line of a test would be another stack).
// `first` is filled by the first round; the statistics count the rounds after it.
struct Rounds {
  std::vector<StackId> first;
  std::vector<uintptr_t> frames;
  StackRecorderStats after_first_round{};
};

// One round: each caller once, from one call site. Its own function, called from a loop
// that does nothing else, and taking the statistics' snapshot itself (`snapshot` non-null
// after the first round): a loop that treated its first round apart was peeled by clang
// into a copy of its own, so the first round's stacks ran through another return address
// than the others' and every caller's stack differed between rounds.
__attribute__((noinline)) void one_round(const std::vector<PathFunction>& callers, StackId* ids,
                                         uintptr_t* frames, StackRecorderStats* snapshot) {
  for (size_t c = 0; c < callers.size(); ++c) ids[c] = callers[c](&frames[c]);
  if (snapshot) *snapshot = stats_now();
}

__attribute__((noinline)) void run_rounds(const std::vector<PathFunction>& callers, int rounds,
                                          Rounds* result) {
  size_t count = callers.size();
  std::vector<StackId> ids(count * static_cast<size_t>(rounds), kNoStack);
  std::vector<uintptr_t> frames(count * static_cast<size_t>(rounds), 0);
  for (int round = 0; round < rounds; ++round) {
    size_t at = count * static_cast<size_t>(round);
    one_round(callers, &ids[at], &frames[at], round == 0 ? &result->after_first_round : nullptr);
  }
  result->first.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(count));
  result->frames.assign(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(count));
  for (int round = 1; round < rounds; ++round)
    for (size_t c = 0; c < count; ++c)
      EXPECT_EQ(ids[count * static_cast<size_t>(round) + c], result->first[c])
          << "caller " << c << ", round " << round;
}

TEST_F(StackRecorder, RepeatedCallsFromOneSiteAreAnsweredByTheMemo) {
  Rounds rounds;
  run_rounds(paths(std::make_integer_sequence<int, 1>{}), 101, &rounds);
  StackRecorderStats after = stats_now();
  ASSERT_NE(rounds.first[0], kNoStack);
  EXPECT_EQ(after.walks, rounds.after_first_round.walks);
  EXPECT_EQ(after.memo_hits - rounds.after_first_round.memo_hits, 100u);
}

// Two callers that share the start, taking turns: a memo that keeps one stack per start
// walks for every call; this one walks once per caller, and never answers one caller with
// the other's stack.
TEST_F(StackRecorder, CallersSharingAStartAreAllRemembered) {
  Rounds rounds;
  run_rounds(paths(std::make_integer_sequence<int, 2>{}), 51, &rounds);
  StackRecorderStats after = stats_now();
  ASSERT_EQ(rounds.frames[0], rounds.frames[1])
      << "the callers must reach record_here at one stack depth";
  EXPECT_NE(rounds.first[0], rounds.first[1]);
  EXPECT_EQ(after.walks, rounds.after_first_round.walks);
  EXPECT_EQ(after.memo_hits - rounds.after_first_round.memo_hits, 100u);
}

// More callers sharing the start than the memo has entries, in turn: entries are evicted
// and refilled, and every answer is still the caller's own stack.
TEST_F(StackRecorder, MoreCallersThanEntriesStayApart) {
  Rounds rounds;
  constexpr int kCallers = kStackMemoEntries + 8;
  run_rounds(paths(std::make_integer_sequence<int, kCallers>{}), 6, &rounds);
  for (uintptr_t frame : rounds.frames) ASSERT_EQ(frame, rounds.frames[0]);
  EXPECT_EQ(std::set<StackId>(rounds.first.begin(), rounds.first.end()).size(), size_t{kCallers});
  // Least recently used first out: more callers in turn than entries miss every time.
  EXPECT_GE(stats_now().walks - rounds.after_first_round.walks, 5u * kCallers);
}

}  // namespace
}  // namespace tally
