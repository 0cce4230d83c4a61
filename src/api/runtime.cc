// Start-up, fork and exit. Initialization runs inside the first malloc (often the dynamic
// loader's), so it reads the environment itself, calls nothing that allocates, and
// tolerates being re-entered from the same thread. Work that may allocate (registering
// fork handlers) waits for the library constructor.
#include "api/runtime.h"

#include <pthread.h>

#include <atomic>

#include "api/options.h"
#include "api/statistics.h"
#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/metadata_arena.h"
#include "core/registry.h"
#include "core/segment.h"
#include "os/environment.h"
#include "report/error_report.h"
#include "report/output.h"

namespace tally {
namespace {

std::atomic<int> g_state{0};  // 0: not started, 1: in progress, 2: done

void late_double_free(uintptr_t block, size_t size) {
  report_late_double_free(block, size);
}

}  // namespace

void runtime_before_fork() {
  heap_lock_for_fork();
  metadata_lock_for_fork();
  segment_lock_for_fork();
  large_lock_for_fork();
}

void runtime_after_fork_in_parent() {
  large_unlock_after_fork(false);
  segment_unlock_after_fork(false);
  metadata_unlock_after_fork(false);
  heap_unlock_after_fork(false);
}

void runtime_after_fork_in_child() {
  large_unlock_after_fork(true);
  segment_unlock_after_fork(true);
  metadata_unlock_after_fork(true);
  heap_unlock_after_fork(true);
}

void runtime_ensure_initialized() {
  if (TALLY_LIKELY(g_state.load(std::memory_order_acquire) == 2)) return;
  int expected = 0;
  if (!g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    // Another thread is initializing (or this one, re-entered): the pieces below are each
    // safe to use before the options are known, so go on.
    return;
  }
  options_parse(environment_get("TALLY_OPTIONS"));
  output_set_log_path(g_options.log_path);
  report_set_policy(ReportPolicy{g_options.halt_on_error, g_options.exitcode});
  g_report_late_double_free = late_double_free;
  registry_initialize();
  g_state.store(2, std::memory_order_release);
  if (g_options.verbosity > 0) statistics_print_options();
}

}  // namespace tally

// Runs after the C library is initialized, before the program's constructors.
__attribute__((constructor(101))) static void tally_library_constructor() {
  tally::runtime_ensure_initialized();
  pthread_atfork(tally::runtime_before_fork, tally::runtime_after_fork_in_parent,
                 tally::runtime_after_fork_in_child);
}

// Runs after the program's exit handlers and destructors.
__attribute__((destructor(101))) static void tally_library_destructor() {
  if (tally::g_options.stats) tally::statistics_print();
}
