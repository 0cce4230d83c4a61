// The leak check: stop the world, mark from the roots, and report every live block left
// unmarked as LeakSanitizer does: direct leaks (no other leaked block points to them) and
// indirect ones (reachable only from leaked blocks), grouped by allocation stack (by size
// when stacks were not recorded), largest first, suppressions applied, then a SUMMARY.
//
// A leaked structure whose blocks all point at each other (a cycle) has no block that
// nothing else points to; one block of it, the lowest in memory, is named its direct leak
// and the rest are indirect, so every leaked structure shows at least one direct leak.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

struct LeakCheckSettings {
  bool interior_pointers = true;
  bool scan_program_mappings = true;  // anonymous memory the program mapped is a root
  int workers = 0;                    // 0: by the memory to mark (leak_check_worker_count)
  const char* suppressions = nullptr;
  int stop_signal = 0;   // 0: keep the default
  bool at_exit = false;  // run from exit(): the caller's stack below exit's caller is dead
};

struct LeakCheckResult {
  bool ran;               // false: the check could not run (another check in progress, no memory)
  uint64_t leaked_bytes;  // not suppressed
  uint64_t leaked_blocks;
  uint64_t direct_blocks;
  uint64_t suppressed_bytes;
  uint64_t suppressed_blocks;
  uint64_t unstopped_threads;  // threads that did not stop: their stacks were not scanned
  uint64_t waiting_threads;    // ... but waited in a system call: stacks scanned, registers not
};

// The allocator's locks, taken in their fixed order before the world stops (so no stopped
// thread holds one) and released after it resumes. Set by the runtime.
void leak_check_set_allocator_locks(void (*lock_all)(), void (*unlock_all)());

// Runs the check and writes the report (nothing when there are no leaks, unless
// `verbose`). Safe from any thread; a check asked for while one runs returns ran=false.
LeakCheckResult leak_check_run(const LeakCheckSettings& settings, bool verbose);

// The threads that mark: `requested` when it is above 0; else one per kBytesPerMarkWorker of
// `bytes_to_mark` (the resident memory, or the heap), and no more than the `processors`
// the process may run on.
constexpr size_t kBytesPerMarkWorker = size_t{64} << 20;
int leak_check_worker_count(int requested, size_t bytes_to_mark, int processors);

// The statistics of the last mark, printed by the runtime when asked.
void leak_check_print_last_mark();

}  // namespace tally
