// Start-up, fork and exit. Initialization runs inside the first malloc (often the dynamic
// loader's), so it reads the environment itself, calls nothing that allocates, and
// tolerates being re-entered from the same thread. Work that may allocate (registering
// fork handlers) waits for the library constructor.
#include "api/runtime.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>

#include "api/allocation.h"
#include "api/checked_allocation.h"
#include "api/options.h"
#include "api/statistics.h"
#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/metadata_arena.h"
#include "core/registry.h"
#include "core/segment.h"
#include "mark/leak_check.h"
#include "mark/marker.h"
#include "mark/roots.h"
#include "os/environment.h"
#include "os/internal_mappings.h"
#include "os/process.h"
#include "report/error_report.h"
#include "report/output.h"
#include "report/stack_capture.h"
#include "report/symbolizer.h"
#include "safety/guard_pool.h"
#include "safety/quarantine.h"
#include "safety/safety_config.h"

extern "C" void* __tls_get_addr(void*);

namespace tally {
namespace {

std::atomic<int> g_state{0};  // 0: not started, 1: in progress, 2: done

// A thread gives up its heap as it exits (after the value it returned is stored in its
// descriptor): its quarantine batch goes to the global FIFO, and its descriptor is a root
// until it is joined (see thread_overrides.cc).
void before_heap_release(Heap* heap) {
  if (g_safety.quarantine) quarantine_flush_heap(heap);
  roots_note_exited_thread(reinterpret_cast<uintptr_t>(pthread_self()));
}

void late_double_free(uintptr_t block, size_t size) {
  report_late_double_free(block, size);
}

bool resolve(signed char tristate, bool mode_default) {
  return tristate < 0 ? mode_default : tristate != 0;
}

// The safety layers the mode and the options ask for.
void configure_safety() {
  bool safe = g_options.mode == Mode::kSafe;
  bool debug = g_options.mode == Mode::kDebug;
  SafetyConfig& config = g_safety;
  config.quarantine = resolve(g_options.quarantine, safe || debug);
  config.poison = config.quarantine && resolve(g_options.poison, safe || debug);
  config.protect_large = config.quarantine && resolve(g_options.protect_large, debug);
  config.canaries = resolve(g_options.canaries, safe || debug);
  config.canary_slack = config.canaries && resolve(g_options.canary_slack, safe || debug);
  // In debug mode, and wherever the leak check walks the heap at exit anyway.
  config.canaries_at_exit =
      config.canaries && resolve(g_options.canaries_at_exit, debug || runtime_leak_check_at_exit());
  // Filling and verifying costs as much as the program's own use of a big block; safe mode
  // bounds it, debug mode poisons everything.
  config.poison_max_bytes = g_options.poison_bytes ? g_options.poison_bytes
                            : debug                ? SIZE_MAX
                                                   : size_t{4} << 10;
  // Debug mode's whole-block poison, on a large block whose protection the time budget
  // refused: 20,000 frees of 0.3-2.3 MB blocks the program wrote two bytes of took 15.5 s
  // (valgrind: 1.8 s), faulting in every page to fill it; 64 KiB each, 0.35 s.
  config.large_poison_max_bytes =
      g_options.poison_bytes || config.poison_max_bytes < (size_t{64} << 10)
          ? config.poison_max_bytes
          : size_t{64} << 10;
  config.alloc_dealloc_mismatch = resolve(g_options.alloc_dealloc_mismatch, debug);
  config.new_delete_type_mismatch = resolve(g_options.new_delete_type_mismatch, debug);
  config.alloc_stacks = resolve(g_options.alloc_stacks, debug);
  config.realloc_moves = resolve(g_options.realloc_moves, debug);
  config.free_stacks = resolve(g_options.free_stacks, safe || debug);
  config.guard_all = debug;
  config.guard_rate = g_options.guard_rate > 0 ? static_cast<uint32_t>(g_options.guard_rate) : 0;
  config.guard_time_percent =
      g_options.guard_time_percent > 0 ? static_cast<uint32_t>(g_options.guard_time_percent) : 0;
  config.sample_rate =
      safe && g_options.sample_rate > 0 ? static_cast<uint32_t>(g_options.sample_rate) : 0;
  // Guarded blocks keep their size in a block record (24 bits).
  config.guard_max_size = g_options.guard_max_size < (size_t{1} << 24) ? g_options.guard_max_size
                                                                       : (size_t{1} << 24) - 1;
  config.guard_left = strcmp(g_options.guard_side, "left") == 0;
  config.guard_markers = g_options.guard_markers;
  // 0: what the C standard asks of malloc (see guard_alignment in checked_allocation.cc).
  config.guard_min_alignment =
      g_options.guard_alignment > 0 ? static_cast<size_t>(g_options.guard_alignment) : 0;
  config.guard_pool_slots = g_options.guard_pool_size > 0
                                ? static_cast<size_t>(g_options.guard_pool_size)
                                : (debug ? 4096 : 256);
  // Under a limit of address space (RLIMIT_AS, `ulimit -v`) the pool takes at most an eighth
  // of it: debug mode's 4096 slots of 256 KiB are a GiB of address space, which left a
  // python under a 200 MB limit no room to start. Fewer slots guard fewer blocks at once.
  struct rlimit address_space;
  if (g_options.guard_pool_size <= 0 && getrlimit(RLIMIT_AS, &address_space) == 0 &&
      address_space.rlim_cur != RLIM_INFINITY) {
    size_t stride = ((config.guard_max_size + kOsPageSize - 1) & ~(kOsPageSize - 1)) + kOsPageSize;
    size_t fitting = static_cast<size_t>(address_space.rlim_cur) / 8 / stride;
    if (fitting < config.guard_pool_slots) config.guard_pool_slots = fitting;
  }
  // The quarantine follows the live heap, so that a small program's freed blocks stay in
  // cache and a big one's detection window grows with it: a quarter of it in safe mode; in
  // debug mode as much as the live heap, at least 20 MiB (memcheck's freelist: debug mode
  // is to catch what memcheck catches) and at most 256 MiB (AddressSanitizer's). A fixed
  // 256 MiB made every small program cycle through 256 MiB of cold, refaulted memory: debug
  // mode ran twice as slow on larson and small_churn as with 64 MiB, and 64 MiB a quarter
  // slower than 20 MiB (realloc_growth, which frees a block per realloc, twice as slow).
  config.quarantine_live_divisor = debug ? 1 : 4;
  if (g_options.quarantine_bytes) {
    config.quarantine_min_bytes = config.quarantine_max_bytes = g_options.quarantine_bytes;
  } else if (debug) {
    config.quarantine_min_bytes = size_t{20} << 20;
    config.quarantine_max_bytes = size_t{256} << 20;
  } else {
    config.quarantine_min_bytes = size_t{4} << 20;
    config.quarantine_max_bytes = size_t{256} << 20;
  }
  config.thread_quarantine_bytes = g_options.thread_quarantine_bytes;
  config.stack_depth = g_options.stack_depth > 0 ? g_options.stack_depth : 1;
  config.checked = config.quarantine || config.canaries || config.alloc_dealloc_mismatch ||
                   config.new_delete_type_mismatch || config.alloc_stacks || config.free_stacks ||
                   config.guard_all || config.sample_rate;
  config.lean_small_allocation = config.checked && !config.alloc_stacks && !config.guard_all;
  g_keep_block_records = config.checked;
  g_track_live_estimate =
      config.quarantine && config.quarantine_min_bytes < config.quarantine_max_bytes;
}

// The dynamic loader's range, for called_from_loader: the object that holds
// __tls_get_addr (ld.so exports it), unless that is the object that holds tally too (a
// static program).
void find_loader_code() {
  struct dl_find_object loader, own;
  if (_dl_find_object(reinterpret_cast<void*>(&__tls_get_addr), &loader) != 0) return;
  if (_dl_find_object(reinterpret_cast<void*>(&find_loader_code), &own) == 0 &&
      own.dlfo_map_start == loader.dlfo_map_start)
    return;
  g_loader_code_start = reinterpret_cast<uintptr_t>(loader.dlfo_map_start);
  g_loader_code_size = reinterpret_cast<uintptr_t>(loader.dlfo_map_end) - g_loader_code_start;
}

}  // namespace

void runtime_before_fork() {
  large_lock_moves_for_fork();  // first: a move holds it while it takes the others
  roots_lock_for_fork();
  quarantine_lock_for_fork();
  guard_pool_lock_for_fork();
  heap_lock_for_fork();
  metadata_lock_for_fork();
  segment_lock_for_fork();
  large_lock_for_fork();
  internal_mappings_lock();  // last: a leaf, taken while others are held
}

void runtime_after_fork_in_parent() {
  internal_mappings_unlock_after_fork(false);
  large_unlock_after_fork(false);
  segment_unlock_after_fork(false);
  metadata_unlock_after_fork(false);
  heap_unlock_after_fork(false);
  guard_pool_unlock_after_fork(false);
  quarantine_unlock_after_fork(false);
  roots_unlock_after_fork(false);
  large_unlock_moves_after_fork(false);
}

void runtime_after_fork_in_child() {
  internal_mappings_unlock_after_fork(true);
  large_unlock_after_fork(true);
  segment_unlock_after_fork(true);
  metadata_unlock_after_fork(true);
  heap_unlock_after_fork(true);
  guard_pool_unlock_after_fork(true);
  quarantine_unlock_after_fork(true);
  if (g_keep_block_records) checked_after_fork_in_child();
  roots_unlock_after_fork(true);
  large_unlock_moves_after_fork(true);
  marker_after_fork_in_child();
  process_threads_vanished_at_fork();
}

bool runtime_leak_check_at_exit() {
  bool debug = g_options.mode == Mode::kDebug;
  return g_options.leaks < 0 ? debug : g_options.leaks != 0;
}

LeakCheckSettings runtime_leak_check_settings() {
  LeakCheckSettings settings;
  settings.interior_pointers = g_options.interior_pointers;
  settings.scan_program_mappings = g_options.scan_program_mappings;
  settings.workers = g_options.mark_threads;
  settings.suppressions = g_options.suppressions;
  settings.stop_signal = g_options.stop_signal;
  return settings;
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
  // Output due at exit outlives a program that closes stderr in its exit handlers.
  if (runtime_leak_check_at_exit() || g_options.stats) output_keep_stderr_copy();
  report_set_policy(ReportPolicy{g_options.halt_on_error, g_options.exitcode});
  g_report_late_double_free = late_double_free;
  configure_safety();
  g_huge_pages_after_segments = g_options.huge_pages == 0   ? kNeverHugePages
                                : g_options.huge_pages == 1 ? 0
                                                            : kHugePagesAfterSegments;
  if (!g_options.symbolize) symbolizer_disable();
  find_loader_code();
  if (g_safety.checked) checked_initialize();
  g_before_heap_release = before_heap_release;
  leak_check_set_allocator_locks(runtime_before_fork, runtime_after_fork_in_parent);
  g_state.store(2, std::memory_order_release);
  if (g_options.verbosity > 0) statistics_print_options();
}

}  // namespace tally

// Runs after the C library is initialized, before the program's constructors.
__attribute__((constructor(101))) static void tally_library_constructor() {
  tally::runtime_ensure_initialized();
  // The unwinder's first use looks symbols up and may load libgcc_s, which allocates: in
  // debug mode, where reports from the fault handler are the point, that is done now, not
  // inside a report. Safe mode loads it at its first report instead (t_capturing keeps that
  // from recursing): loading libgcc_s at every start cost each process 70 page faults and
  // about a millisecond, a shell script's every command.
  if (tally::g_safety.guard_all) {
    uintptr_t frames[4];
    tally::stack_capture_unwind(frames, 4, 0);
  }
  pthread_atfork(tally::runtime_before_fork, tally::runtime_after_fork_in_parent,
                 tally::runtime_after_fork_in_child);
}

// Runs after the program's exit handlers and destructors.
__attribute__((destructor(101))) static void tally_library_destructor() {
  // Blocks still in quarantine are verified now, so a write after free in a short program
  // is reported too.
  if (tally::g_safety.checked) tally::checked_verify_quarantine_at_exit();
  bool leaked = false;
  if (tally::runtime_leak_check_at_exit()) {
    tally::LeakCheckSettings settings = tally::runtime_leak_check_settings();
    settings.at_exit = true;
    tally::LeakCheckResult result = tally::leak_check_run(settings, tally::g_options.verbosity > 0);
    leaked = result.leaked_blocks > 0;
    if (tally::g_options.stats || tally::g_options.verbosity > 0)
      tally::leak_check_print_last_mark();
  }
  // Both checks stop the world, and the leak check must see the threads as the program
  // left them: a stop's signal ends a thread's pause(), sigsuspend() or sleep (no return
  // from a handler restarts those), and a thread woken by the canary check's stop went on,
  // returned and dropped the pointers its stack held before the leak check's stop.
  if (tally::g_safety.checked) tally::checked_canaries_at_exit();
  if (tally::g_options.stats) tally::statistics_print();
  // leak_exitcode=0 reports and keeps the program's own status (LeakSanitizer's exitcode=0
  // does the same): a shell script's `exit 3` still exits 3.
  if (leaked && tally::g_options.leak_exitcode != 0) {
    // exit() flushes stdio after the destructors; _exit would drop what the program left
    // in its buffers (all of its output, when that goes to a pipe or a file).
    fflush(nullptr);
    _exit(tally::g_options.leak_exitcode);
  }
}
