// The leak check, in three parts:
//  1. with the allocator locked and the world stopped: roots, the mark, the classification
//     of what is left unmarked (direct, indirect), and a list of the leaked blocks;
//  2. the world resumed and the allocator unlocked: the list is grouped and sorted;
//  3. the report, which symbolizes (that may allocate, so it waits for part 2).
#include "mark/leak_check.h"

#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "core/large_blocks.h"
#include "core/segment.h"
#include "mark/marker.h"
#include "mark/roots.h"
#include "mark/suppressions.h"
#include "mark/world.h"
#include "os/mapped_array.h"
#include "os/memory.h"
#include "os/process.h"
#include "report/error_report.h"
#include "report/output.h"
#include "report/report_format.h"
#include "report/stack_capture.h"
#include "report/stack_depot.h"
#include "report/symbolizer.h"
#include "safety/guard_pool.h"
#include "safety/safety_config.h"

namespace tally {
namespace {

void (*g_lock_all)() = nullptr;
void (*g_unlock_all)() = nullptr;
std::atomic<bool> g_running{false};
MarkStatistics g_last_mark{};
bool g_have_last_mark = false;
uint64_t g_last_pause_nanoseconds = 0;  // world stopped: roots, mark, classification

struct Leak {
  uintptr_t start;
  uint64_t size;  // requested size when known, else the block's
  uint32_t stack;
  uint16_t thread;
  bool direct;
  // An indirect leak that a suppressed direct leak reaches: suppressed with it (report()).
  Suppression* suppressed_with;
};

// A growable list in mapped memory (the allocator is locked while it fills).
struct LeakList {
  MappedArray<Leak> items{};
  bool truncated = false;
  uint64_t inherited = 0;  // blocks of threads that did not survive a fork, not listed

  void add(const Leak& leak) {
    if (!items.push(leak)) truncated = true;
  }
  void release() { items.release(); }
};

int processor_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int count = CPU_COUNT(&set);
  return count > 0 ? count : 1;
}

// What the mark may have to scan: the process's resident memory (its roots, such as an
// interpreter's own arenas, are scanned by the workers too), or the heap tally holds (its
// committed small pages, live large and guarded blocks) where that is more or the resident
// size is not known.
size_t bytes_to_mark() {
  size_t heap = g_bytes_committed.load(std::memory_order_relaxed) + large_live_bytes() +
                guard_pool_live_pages_bytes();
  size_t resident = process_resident_bytes();
  return resident > heap ? resident : heap;
}

struct StopContext {
  int* excluded;
  int excluded_count;
};

bool stop_on_first_module(void* raw) {
  StopContext* context = static_cast<StopContext*>(raw);
  return world_stop(context->excluded, context->excluded_count);
}

void add_thread_roots(const StoppedThread& thread) {
  for (const MemoryRange& range : thread.ranges) marker_add_root(range.low, range.high);
  uintptr_t registers = reinterpret_cast<uintptr_t>(thread.registers);
  marker_add_root(registers, registers + sizeof thread.registers);
}

StoppedThread g_self;  // the checking thread's own registers and ranges

Leak leak_of(const MarkBlock& block, bool direct) {
  Leak leak;
  leak.start = block.start;
  leak.size = block.requested_size;
  leak.stack = block.record ? block.record->alloc_stack : 0;
  leak.thread = block.record ? block.record->alloc_thread : 0;
  leak.direct = direct;
  leak.suppressed_with = nullptr;
  return leak;
}

// Part 1, with the world stopped: everything unmarked after the mark is leaked; of those,
// the ones no other leaked block reaches are direct; cycles get one direct block each.
void classify(LeakList& leaks) {
  marker_flood_indirect();
  marker_for_each_unmarked(
      [](const MarkBlock& block, void* raw) {
        LeakList& list = *static_cast<LeakList*>(raw);
        if (block.record && process_thread_vanished(block.record->alloc_thread)) {
          ++list.inherited;  // a forked child's share of a vanished parent thread's blocks
          return;
        }
        // A block a vanished thread was in the middle of allocating when the process forked:
        // taken from its page, its record not yet written (every allocation records a stack
        // when alloc_stacks is on, so a record without one was never filled).
        if (block.record && block.record->alloc_stack == kNoStack && g_safety.alloc_stacks &&
            process_lost_threads_at_fork()) {
          ++list.inherited;
          return;
        }
        list.add(leak_of(block, !block.indirect));
      },
      &leaks);
  // Mark what the direct leaks reach; leaked blocks still unmarked after that belong to
  // structures with no direct leak (cycles).
  for (size_t i = 0; i < leaks.items.count; ++i) {
    if (!leaks.items[i].direct) continue;
    MarkBlock block;
    if (marker_find_block(leaks.items[i].start, &block)) marker_mark_from(block);
  }
  for (size_t i = 0; i < leaks.items.count; ++i) {  // in address order of the heap walk
    MarkBlock block;
    if (leaks.items[i].direct || !marker_find_block(leaks.items[i].start, &block) || block.marked)
      continue;
    leaks.items[i].direct = true;
    marker_mark_from(block);
  }
}

// --- Part 2 and 3: groups and the report ----------------------------------------------------

struct Group {
  bool direct;
  uint32_t stack;
  uint64_t size_key;  // for leaks without a stack: the size they share
  uint64_t bytes;
  uint64_t objects;
  uintptr_t example;
  Suppression* suppression;
  size_t first;  // its leaks are leaks.items[first, first + count) (sorted by leak_order)
  size_t count;
};

bool same_group(const Leak& a, const Leak& b) {
  if (a.direct != b.direct || a.stack != b.stack) return false;
  return a.stack != 0 || a.size == b.size;
}

bool leak_order(const Leak& a, const Leak& b) {
  if (a.direct != b.direct) return a.direct;
  if (a.stack != b.stack) return a.stack < b.stack;
  if (a.stack == 0 && a.size != b.size) return a.size < b.size;
  return a.start < b.start;
}

bool group_order(const Group& a, const Group& b) {
  if (a.direct != b.direct) return a.direct;
  if (a.bytes != b.bytes) return a.bytes > b.bytes;
  return a.objects > b.objects;
}

// The names a suppression may match: every frame's function and module.
Suppression* suppression_for(uint32_t stack) {
  if (!stack || suppressions_count() == 0) return nullptr;
  uintptr_t frames[kMaxReportFrames];
  int count = stack_depot_get(stack, frames, kMaxReportFrames);
  if (count > kMaxReportFrames) count = kMaxReportFrames;
  static SymbolizedFrame symbolized[8];
  for (int i = 0; i < count; ++i) {
    int found = symbolize(stack_frame_pc(frames[i]), symbolized, 8);
    for (int j = 0; j < found; ++j) {
      const char* names[2] = {symbolized[j].function, symbolized[j].module};
      if (Suppression* match = suppressions_match(names, 2)) return match;
    }
  }
  return nullptr;
}

// "==PID==WARNING: tally: COUNT<rest>", when count is not zero.
void write_thread_warning(Formatter& out, int pid, uint64_t count, const char* rest) {
  if (count == 0) return;
  out.text("==")
      .decimal(static_cast<uint64_t>(pid))
      .text("==WARNING: tally: ")
      .decimal(count)
      .text(rest);
}

void write_group_text(Formatter& out, const Group& group) {
  out.text(group.direct ? "Direct" : "Indirect")
      .text(" leak of ")
      .decimal(group.bytes)
      .text(" byte(s) in ")
      .decimal(group.objects)
      .text(" object(s) ");
  if (group.stack) {
    out.text("allocated from:\n");
    text_depot_stack(out, group.stack);
  } else {
    out.text("of ")
        .decimal(group.size_key)
        .text(
            " byte(s) each, allocation stack not recorded (mode=debug or alloc_stacks=1 "
            "records it); for example at ")
        .hex(group.example)
        .character('\n');
  }
  out.character('\n');
}

void write_group_json(const Group& group, int pid) {
  static char buffer[65536];
  Formatter out(buffer, sizeof buffer - 1);
  out.text("{\"tool\":\"tally\",\"pid\":").decimal(static_cast<uint64_t>(pid));
  out.text(",\"kind\":\"leak\",\"direct\":").text(group.direct ? "true" : "false");
  out.text(",\"bytes\":").decimal(group.bytes).text(",\"objects\":").decimal(group.objects);
  if (!group.stack) out.text(",\"object_size\":").decimal(group.size_key);
  out.text(",\"example\":");
  json_hex(out, group.example);
  out.text(",\"allocated_by\":");
  json_depot_stack(out, group.stack);
  out.text("}\n");
  output_write_json(out.data(), out.length());
}

// The leak containing `address`, through `by_address` (indices of `leaks` by start), or
// SIZE_MAX.
size_t leak_containing(const LeakList& leaks, const uint32_t* by_address, uintptr_t address) {
  const uint32_t* end = by_address + leaks.items.count;
  const uint32_t* after = std::upper_bound(
      by_address, end, address,
      [&](uintptr_t at, uint32_t index) { return at < leaks.items.items[index].start; });
  if (after == by_address) return SIZE_MAX;
  const Leak& leak = leaks.items.items[after[-1]];
  uint64_t size = leak.size ? leak.size : 1;
  return address - leak.start < size ? after[-1] : SIZE_MAX;
}

// Indirect leaks that a suppressed direct leak reaches are its own structure (the nodes of
// a suppressed list): they are suppressed with it, as LeakSanitizer does, instead of being
// reported under their own allocation stacks. Runs after the world resumed (suppressions
// need the symbolizer); leaked blocks are out of the program's reach, so they hold still,
// but each read goes through the kernel in case one went away all the same.
void suppress_what_suppressed_leaks_reach(LeakList& leaks, Group* groups, size_t group_count,
                                          LeakCheckResult& result) {
  bool seeds = false, open = false;
  for (size_t g = 0; g < group_count; ++g) {
    if (groups[g].suppression && groups[g].direct) seeds = true;
    if (!groups[g].suppression && !groups[g].direct) open = true;
  }
  size_t count = leaks.items.count;
  if (!seeds || !open || count > UINT32_MAX) return;
  size_t bytes = (2 * count * sizeof(uint32_t) + 4095) & ~size_t{4095};
  auto* by_address = static_cast<uint32_t*>(os_map(bytes));
  if (!by_address) return;
  uint32_t* work = by_address + count;  // each leak goes on it at most once
  Leak* items = leaks.items.items;
  for (size_t i = 0; i < count; ++i) by_address[i] = static_cast<uint32_t>(i);
  std::sort(by_address, by_address + count,
            [&](uint32_t a, uint32_t b) { return items[a].start < items[b].start; });
  size_t top = 0;
  for (size_t g = 0; g < group_count; ++g) {
    if (!groups[g].suppression || !groups[g].direct) continue;
    for (size_t i = groups[g].first; i < groups[g].first + groups[g].count; ++i) {
      items[i].suppressed_with = groups[g].suppression;
      work[top++] = static_cast<uint32_t>(i);
    }
  }
  static uintptr_t chunk[512];
  while (top > 0) {
    const Leak& leak = items[work[--top]];
    uintptr_t low = (leak.start + 7) & ~uintptr_t{7}, high = leak.start + leak.size;
    for (uintptr_t at = low; at + sizeof(uintptr_t) <= high; at += sizeof chunk) {
      size_t length = (high - at < sizeof chunk ? high - at : sizeof chunk) & ~size_t{7};
      CopyAnswer answer = process_copy_own_memory(at, chunk, length);
      if (answer == CopyAnswer::kUnreadable) break;
      if (answer == CopyAnswer::kUnknown) memcpy(chunk, reinterpret_cast<const void*>(at), length);
      for (size_t w = 0; w < length / sizeof(uintptr_t); ++w) {
        size_t target = leak_containing(leaks, by_address, chunk[w]);
        if (target == SIZE_MAX || items[target].direct || items[target].suppressed_with) continue;
        items[target].suppressed_with = leak.suppressed_with;
        work[top++] = static_cast<uint32_t>(target);
      }
    }
  }
  os_unmap(by_address, bytes);
  // Take them out of their groups.
  for (size_t g = 0; g < group_count; ++g) {
    Group& group = groups[g];
    if (group.suppression) continue;
    group.bytes = group.objects = 0;
    for (size_t i = group.first; i < group.first + group.count; ++i) {
      Leak& leak = items[i];
      if (Suppression* with = leak.suppressed_with) {
        with->leaks += 1;
        with->bytes += leak.size;
        result.suppressed_bytes += leak.size;
        result.suppressed_blocks += 1;
        continue;
      }
      if (group.objects == 0) group.example = leak.start;
      group.bytes += leak.size;
      ++group.objects;
    }
  }
}

void report(LeakList& leaks, LeakCheckResult& result, bool verbose) {
  std::sort(leaks.items.begin(), leaks.items.end(), leak_order);
  size_t group_capacity = leaks.items.count ? leaks.items.count : 1;
  auto* groups = static_cast<Group*>(os_map(group_capacity * sizeof(Group)));
  if (!groups) return;
  size_t group_count = 0;
  for (size_t i = 0; i < leaks.items.count; ++i) {
    const Leak& leak = leaks.items[i];
    if (group_count == 0 || !same_group(leaks.items[i - 1], leak)) {
      groups[group_count++] =
          Group{leak.direct, leak.stack, leak.size, 0, 0, leak.start, nullptr, i, 0};
    }
    Group& group = groups[group_count - 1];
    group.bytes += leak.size;
    ++group.objects;
    ++group.count;
  }

  report_lock_acquire(false);  // a check that finds nothing reports no error
  int pid = process_id();
  for (size_t i = 0; i < group_count; ++i) groups[i].suppression = suppression_for(groups[i].stack);
  suppress_what_suppressed_leaks_reach(leaks, groups, group_count, result);
  std::sort(groups, groups + group_count, group_order);
  for (size_t i = 0; i < group_count; ++i) {
    Group& group = groups[i];
    if (group.suppression) {
      group.suppression->leaks += group.objects;
      group.suppression->bytes += group.bytes;
      result.suppressed_bytes += group.bytes;
      result.suppressed_blocks += group.objects;
    } else {
      result.leaked_bytes += group.bytes;
      result.leaked_blocks += group.objects;
      if (group.direct) result.direct_blocks += group.objects;
    }
  }
  if (result.leaked_blocks) report_count_error();
  static char buffer[1 << 16];
  Formatter out(buffer, sizeof buffer);
  if (result.leaked_blocks) {
    out.text("\n=================================================================\n==")
        .decimal(static_cast<uint64_t>(pid))
        .text("==ERROR: tally: detected memory leaks\n\n");
    output_write(out);
    for (size_t i = 0; i < group_count; ++i) {
      if (groups[i].suppression || groups[i].objects == 0) continue;
      out.clear();
      write_group_text(out, groups[i]);
      output_write(out);
      write_group_json(groups[i], pid);
    }
  }
  out.clear();
  bool used_suppressions = result.suppressed_blocks > 0;
  if (used_suppressions && (result.leaked_blocks || verbose)) {
    out.text(
        "-----------------------------------------------------\n"
        "Suppressions used:\n  count      bytes template\n");
    for (int i = 0; i < suppressions_count(); ++i) {
      const Suppression& suppression = suppression_at(i);
      if (!suppression.leaks) continue;
      out.padded(suppression.leaks, 7)
          .padded(suppression.bytes, 11)
          .character(' ')
          .text(suppression.pattern)
          .text(suppression.built_in ? " (built in)\n" : "\n");
    }
    out.text("-----------------------------------------------------\n\n");
  }
  // Unscanned stacks can only hide pointers, so they matter only to leaks found.
  if (result.leaked_blocks || verbose) {
    write_thread_warning(out, pid, result.unstopped_threads,
                         " thread(s) did not stop (they block the stop signal, see the "
                         "stop_signal option) and their stacks and registers were not scanned: "
                         "a block only they point to is reported as leaked.\n");
    write_thread_warning(out, pid, result.waiting_threads,
                         " thread(s) did not stop (they block the stop signal); their stacks "
                         "were scanned where they wait in a system call, their registers were "
                         "not: a block only a register of theirs points to is reported as "
                         "leaked.\n");
  }
  if (leaks.truncated) out.text("(out of memory while listing leaks: the list is incomplete)\n");
  if (result.leaked_blocks) {
    out.text("SUMMARY: tally: ")
        .decimal(result.leaked_bytes)
        .text(" byte(s) leaked in ")
        .decimal(result.leaked_blocks)
        .text(" allocation(s).\n");
    static char json[512];
    Formatter summary(json, sizeof json);
    summary.text("{\"tool\":\"tally\",\"pid\":")
        .decimal(static_cast<uint64_t>(pid))
        .text(",\"kind\":\"leak-summary\",\"bytes\":")
        .decimal(result.leaked_bytes)
        .text(",\"allocations\":")
        .decimal(result.leaked_blocks)
        .text("}\n");
    output_write_json(summary.data(), summary.length());
  } else if (verbose) {
    out.text("==").decimal(static_cast<uint64_t>(pid)).text("== tally: no leaks\n");
  }
  output_write(out);
  report_lock_release_or_die(pid, false);
  os_unmap(groups, group_capacity * sizeof(Group));
}

}  // namespace

void leak_check_set_allocator_locks(void (*lock_all)(), void (*unlock_all)()) {
  g_lock_all = lock_all;
  g_unlock_all = unlock_all;
}

// Helpers pay off on big heaps only. Each costs a thread's start (its stack's mapping, the
// clone, its own stop at every check) before it marks a byte, and one thread marks a heap
// of a few MiB in a millisecond or two (1.1 to 2.7 GiB/s here). One per processor made
// every short command of a shell script in debug mode, which checks for leaks at its exit,
// start them: 63 threads per exit on a 64-processor machine. A 9 MiB heap took 4.8 ms on
// two threads and 0.4 ms on one.
int leak_check_worker_count(int requested, size_t bytes_to_mark, int processors) {
  if (requested > 0) return requested;
  if (processors < 1) processors = 1;
  size_t by_size = 1 + bytes_to_mark / kBytesPerMarkWorker;
  return by_size < static_cast<size_t>(processors) ? static_cast<int>(by_size) : processors;
}

LeakCheckResult leak_check_run(const LeakCheckSettings& settings, bool verbose) {
  LeakCheckResult result{};
  bool expected = false;
  if (!g_running.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return result;
  suppressions_load(settings.suppressions);
  if (settings.stop_signal) world_set_signal(settings.stop_signal);
  // A sandbox may kill the process for the first thread it starts, or for asking how many
  // processors it has (sshd's pre-login child did both, at its exit): the calling thread
  // marks alone there.
  int workers = process_in_sandbox() ? 1
                : settings.workers > 0
                    ? settings.workers
                    : leak_check_worker_count(0, bytes_to_mark(), processor_count());
  marker_prepare_helpers(workers);
  int excluded[64];
  int excluded_count = marker_helper_tids(excluded, 64);

  MarkSettings mark_settings;
  mark_settings.interior_pointers = settings.interior_pointers;
  mark_settings.workers = workers;
  LeakList leaks;

  ExitCallerState exit_caller;
  bool exit_caller_found = settings.at_exit && world_find_exit_caller(&exit_caller);

  uint64_t started = monotonic_nanoseconds();
  if (g_lock_all) g_lock_all();
  StopContext stop{excluded, excluded_count};
  bool stopped = roots_collect_modules(stop_on_first_module, &stop);
  if (stopped && marker_begin(mark_settings)) {
    for (int i = 0; i < roots_module_count(); ++i) {
      MemoryRange range = roots_module_range(i);
      marker_add_root(range.low, range.high);
    }
    for (int i = 0; i < world_thread_count(); ++i) {
      const StoppedThread* thread = world_thread(i);
      if (!thread) continue;
      if (!thread->responded) {
        if (thread->ranges[0].low < thread->ranges[0].high) {
          ++result.waiting_threads;
          add_thread_roots(*thread);  // its stack; its registers are zero
        } else {
          ++result.unstopped_threads;
        }
        continue;
      }
      add_thread_roots(*thread);
    }
    world_describe_self(&g_self, exit_caller_found ? &exit_caller : nullptr);
    add_thread_roots(g_self);
    marker_add_helper_roots();
    roots_for_each_added([](MemoryRange range, void*) { marker_add_root(range.low, range.high); },
                         nullptr);
    roots_for_each_exited_thread(
        [](MemoryRange range, void*) { marker_add_root(range.low, range.high); }, nullptr);
    if (settings.scan_program_mappings)
      roots_for_each_program_mapping(
          [](MemoryRange range, void*) { marker_add_root(range.low, range.high); },
          [](MemoryRange range, void*) { marker_add_code_root(range.low, range.high); }, nullptr);
    marker_add_ignored_blocks();
    marker_run(&g_last_mark);
    g_have_last_mark = true;
    classify(leaks);
    result.ran = true;
  }
  if (stopped) world_resume();
  if (g_unlock_all) g_unlock_all();
  g_last_pause_nanoseconds = monotonic_nanoseconds() - started;
  if (!stopped) {
    // Said, not skipped silently: a check that did not run is no clean bill.
    char line[256];
    Formatter out(line, sizeof line);
    out.text("==")
        .decimal(static_cast<uint64_t>(process_id()))
        .text(
            "==WARNING: tally: the leak check did not run: the other threads could not be "
            "stopped (a sandbox refuses the thread list or the stop signal)\n");
    output_write(out);
  }

  if (result.ran) report(leaks, result, verbose);
  leaks.release();
  g_running.store(false, std::memory_order_release);
  return result;
}

void leak_check_print_last_mark() {
  if (!g_have_last_mark) return;
  const MarkStatistics& mark = g_last_mark;
  char buffer[1024];
  Formatter out(buffer, sizeof buffer);
  double seconds = static_cast<double>(mark.nanoseconds) / 1e9;
  uint64_t rate =
      seconds > 0
          ? static_cast<uint64_t>(static_cast<double>(mark.bytes_scanned) / seconds / (1 << 20))
          : 0;
  out.text("==")
      .decimal(static_cast<uint64_t>(process_id()))
      .text("== tally mark: ")
      .decimal(mark.root_ranges)
      .text(" root ranges (")
      .bytes(mark.root_bytes)
      .text("), ")
      .bytes(mark.bytes_scanned)
      .text(" scanned, ")
      .decimal(mark.blocks_marked)
      .text(" blocks marked in ")
      .decimal(mark.nanoseconds / 1000000)
      .character('.')
      .decimal((mark.nanoseconds / 100000) % 10)
      .text(" ms on ")
      .decimal(static_cast<uint64_t>(mark.workers))
      .text(" thread(s): ")
      .decimal(rate)
      .text(" MiB/s");
  out.text(", ").decimal(mark.segment_sweeps).text(" segment sweeps");
  if (mark.shared_slots) out.text(", ").decimal(mark.shared_slots).text(" slots swept alongside");
  if (mark.passed_pending_blocks)
    out.text(", ").decimal(mark.passed_pending_blocks).text(" pending blocks found after");
  if (mark.overflow_passes)
    out.text(", ").decimal(mark.overflow_passes).text(" passes after a full mark stack");
  out.text("; the world was stopped for ")
      .decimal(g_last_pause_nanoseconds / 1000000)
      .character('.')
      .decimal((g_last_pause_nanoseconds / 100000) % 10)
      .text(" ms");
  out.character('\n');
  output_write(out);
}

}  // namespace tally
