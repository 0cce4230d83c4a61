// The check at exit of the canaries of blocks that were never freed (canaries_at_exit).
#pragma once

#include <stdint.h>

namespace tally {

struct LiveCanaryCheckResult {
  bool ran;  // false: skipped (another thread may have been inside tally, or the
             // world could not be stopped)
  uint64_t blocks_checked;
  uint64_t blocks_damaged;  // each reported, the first kMaxReported of them
};

// Verifies the canaries of every live block, with the allocator's locks held and the other
// threads stopped, and reports each damaged block as a heap-buffer-overflow found at exit.
// `verbose`: says how many blocks it checked, or why it did not.
LiveCanaryCheckResult live_canary_check(bool verbose);

}  // namespace tally
