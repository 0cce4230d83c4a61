// The check of live blocks' canaries at exit. Free and realloc verify a block's canaries;
// a block the program never frees would take an overflow into its slack (the one byte
// past an odd-sized guarded block in debug mode, the rest of a size class, the tail of a
// large block's last page) out of the process unreported. At exit every live block's
// canaries are verified too, and the damage is reported with the block's allocation stack.
//
// Consistency: the check holds the allocator's locks (as fork does) and stops every other
// thread (as the leak check does), so no block changes while it looks. A thread stopped
// inside tally may be between taking a block and writing its canary (or a realloc in place
// between the new size and its canary): the check is skipped when any other thread may be
// inside tally (its instruction pointer or a word near the top of its stack lies in
// tally's code), and in the child of a fork made while other threads ran (they may have
// left such blocks behind), so that it is silent rather than wrong. Reports are written
// after the world resumes: a report symbolizes through a child process and takes locks a
// stopped thread may hold.
#include "api/live_canary_check.h"

#include <sys/ucontext.h>

#include "api/block_lookup.h"
#include "api/runtime.h"
#include "core/registry.h"
#include "mark/marker.h"
#include "mark/world.h"
#include "os/process.h"
#include "report/heap_bug_report.h"
#include "report/output.h"
#include "report/report_format.h"
#include "safety/canaries.h"

namespace tally {
namespace {

constexpr int kMaxReported = 16;
// Of a stopped thread's stack, the part above its stack pointer searched for return
// addresses into tally: more than the deepest path through malloc takes.
constexpr uintptr_t kStackWindowBytes = 16 << 10;

struct Damage {
  uintptr_t block;
  uintptr_t address;  // the damaged byte farthest from the block's data
};

struct Findings {
  Damage damaged[kMaxReported];
  uint64_t checked;
  uint64_t damaged_count;
};

bool may_be_inside_tally(const StoppedThread& thread) {
  MemoryRange stack = thread.ranges[0];
  // A stack in tally's memory (a coroutine's, an alternate signal stack from malloc) ends
  // with its block: past it may lie guard pages.
  if (!marker_clip_root(&stack.low, &stack.high)) return true;  // nothing known of where it stands
  if (thread.responded && address_in_tally_code(thread.registers[REG_RIP])) return true;
  uintptr_t end =
      stack.high - stack.low > kStackWindowBytes ? stack.low + kStackWindowBytes : stack.high;
  for (uintptr_t at = (stack.low + 7) & ~uintptr_t{7}; at + sizeof(uintptr_t) <= end;
       at += sizeof(uintptr_t)) {
    if (address_in_tally_code(*reinterpret_cast<const uintptr_t*>(at))) return true;
  }
  return false;
}

void check_block(const MarkBlock& block, void* raw) {
  Findings* findings = static_cast<Findings*>(raw);
  // A block the program made inaccessible (mprotect) cannot be read; reading it crashed.
  if (!block.record || !marker_range_scannable(block.start, block.span)) return;
  ++findings->checked;
  size_t size = block.requested_size;
  uintptr_t damaged_at = 0;
  if (registry_lookup(block.start) == kRegistryGuarded) {
    damaged_at = damaged_front_canary(block.start);
    if (!damaged_at) {
      size_t offset = damaged_canary(block.start, size, guarded_canary_span(block.start, size));
      if (offset != SIZE_MAX) damaged_at = block.start + size + offset;
    }
  } else {
    size_t offset = damaged_canary(block.start, size, block.span);
    if (offset != SIZE_MAX) damaged_at = block.start + size + offset;
  }
  if (!damaged_at) return;
  if (findings->damaged_count < kMaxReported)
    findings->damaged[findings->damaged_count] = Damage{block.start, damaged_at};
  ++findings->damaged_count;
}

}  // namespace

LiveCanaryCheckResult live_canary_check(bool verbose) {
  LiveCanaryCheckResult result{};
  static Findings findings;  // too big for a deep stack at exit; one check at a time
  findings = Findings{};
  int excluded[64];
  int excluded_count = marker_helper_tids(excluded, 64);
  runtime_before_fork();  // every allocator lock, so no stopped thread holds one
  // In the child of a fork made while other threads ran, those threads are gone but may
  // have been inside tally at the fork, leaving the same half-made blocks behind.
  if (!process_lost_threads_at_fork() && world_stop(excluded, excluded_count)) {
    bool consistent = true;
    for (int i = 0; i < world_thread_count() && consistent; ++i) {
      const StoppedThread* thread = world_thread(i);
      if (!thread || may_be_inside_tally(*thread)) consistent = false;
    }
    if (consistent && marker_note_inaccessible()) {
      marker_for_each_live(check_block, &findings);
      result.ran = true;
    }
    world_resume();
  }
  runtime_after_fork_in_parent();
  result.blocks_checked = findings.checked;
  result.blocks_damaged = findings.damaged_count;
  uint64_t reported =
      findings.damaged_count < kMaxReported ? findings.damaged_count : uint64_t{kMaxReported};
  if (verbose) {
    char buffer[160];
    Formatter out(buffer, sizeof buffer);
    out.text("==")
        .decimal(static_cast<uint64_t>(process_id()))
        .text("== tally: canaries at exit: ");
    if (result.ran)
      out.decimal(result.blocks_checked)
          .text(" live blocks checked, ")
          .decimal(result.blocks_damaged)
          .text(" damaged\n");
    else
      out.text(
          "not checked (another thread may have been inside the allocator, or could not be "
          "stopped)\n");
    output_write(out);
  }
  for (uint64_t i = 0; i < reported; ++i) {
    const Damage& damage = findings.damaged[i];
    BlockLookup lookup = lookup_block(damage.block);
    // The world runs again: a block another thread freed since is no longer this report's.
    if (lookup.kind != BlockLookup::kLive || lookup.extent.start != damage.block) continue;
    BlockHistory history = history_of(lookup);
    history.freed = false;
    report_overflow_found_at_exit(damage.address, history);
  }
  return result;
}

}  // namespace tally
