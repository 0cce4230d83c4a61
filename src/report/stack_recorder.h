// Recording "the stack right now" as a stack depot id, on the hot paths of the checked
// modes (every free in safe mode, every allocation too in debug mode).
//
// Three layers, cheapest first:
//   1. a memo of the thread's recent walks: the same start (return address, stack and
//      frame pointers) with every stack word the walk read still unchanged means the same
//      frames, so the id is known without walking (a loop that frees at one call site
//      pays a few independent loads per frame instead of a dependent chain of lookups);
//   2. the walk itself (report/stack_capture.h), tally's own frames dropped;
//   3. a per-thread cache from a hash of the frames to the id, in front of the depot's
//      shared table.
// Never allocates through the C library; the memo lives in metadata memory owned by the
// thread's heap (so a thread that exits hands it on instead of leaking it).
#pragma once

#include <stdint.h>

#include "report/stack_depot.h"

namespace tally {

// The most frames a recorded stack keeps (the stack_depth option's bound).
constexpr int kMaxStackDepth = 64;

// Walks each heap's memo remembers (see stack_recorder.cc).
constexpr unsigned kStackMemoEntries = 32;

// The calling program's stack at this call, at most `depth` frames of it (tally's own
// frames are not counted or kept). kNoStack when nothing could be captured.
StackId stack_record_current(int depth);

struct Heap;
// Stacks recorded by the thread that owns `heap` (read racily by others).
struct StackRecorderStats {
  uint64_t memo_hits;  // answered by the memo
  uint64_t walks;      // walked (memo misses, and walks no memo could take)
};
StackRecorderStats stack_recorder_stats_of(const Heap* heap);

}  // namespace tally
