// The statistics report. Counters are read racily from other threads' heaps (each is
// written by one thread only), so figures are exact when the program is quiet, as at exit.
#include "api/statistics.h"

#include <string.h>

#include "api/options.h"
#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/segment.h"
#include "os/process.h"
#include "report/error_report.h"
#include "report/output.h"
#include "report/stack_depot.h"
#include "report/stack_recorder.h"
#include "report/unwind_table.h"
#include "safety/guard_pool.h"
#include "safety/protection_budget.h"
#include "safety/safety_config.h"

namespace tally {
namespace {

struct Totals {
  uint64_t api_calls[kApiCallCount];
  uint64_t live_blocks_per_class[kClassCount];
  uint64_t pages_per_class[kClassCount];
  size_t heaps;
  size_t abandoned_heaps;
  uint64_t quarantined_bytes;
  uint64_t stack_memo_hits;
  uint64_t stack_walks;
};

const char* const kCallNames[] = {"malloc",
                                  "free",
                                  "new",
                                  "delete",
                                  "calloc",
                                  "realloc",
                                  "reallocarray",
                                  "posix_memalign",
                                  "aligned_alloc",
                                  "memalign",
                                  "valloc",
                                  "pvalloc",
                                  "malloc_usable_size",
                                  "new[]",
                                  "new(align)",
                                  "new[](align)",
                                  "delete[]",
                                  "delete(align)",
                                  "delete[](align)",
                                  "malloc_atomic"};
static_assert(sizeof kCallNames / sizeof kCallNames[0] == kApiCallCount,
              "one name per ApiCall, in the enum's order");

uint64_t relaxed(const uint64_t& value) {
  return __atomic_load_n(&value, __ATOMIC_RELAXED);
}

void add_heap(Heap* heap, void* context) {
  Totals& totals = *static_cast<Totals*>(context);
  ++totals.heaps;
  if (heap->abandoned) ++totals.abandoned_heaps;
  for (unsigned i = 0; i < kApiCallCount; ++i) totals.api_calls[i] += relaxed(heap->api_calls[i]);
  StackRecorderStats stacks = stack_recorder_stats_of(heap);
  totals.stack_memo_hits += stacks.memo_hits;
  totals.stack_walks += stacks.walks;
  for (Segment* segment = heap->segments; segment; segment = segment->next) {
    for (unsigned slot = kHeaderSlots; slot < kSlotsPerSegment; ++slot) {
      Page& page = segment->pages[slot];
      if (page.head_distance != 0 || page.status == PageStatus::kUnused ||
          page.status == PageStatus::kEmpty)
        continue;
      // Blocks freed by other threads (not yet collected) or held in quarantine are not live.
      uint64_t not_live = 0;
      for (uint32_t w = 0; w < page.bitmap_words(); ++w) {
        // A block in both maps (two frees that missed each other) was counted by the owner.
        not_live += __builtin_popcountll(page.remote_bits[w].load(std::memory_order_relaxed) &
                                         ~page.free_bits[w].load(std::memory_order_relaxed));
        // A claim on a block in the remote map is a release the owner has not harvested
        // yet, counted above; one on a free block is a release's that waits to be dropped,
        // or a racing double free's (see drop_stale_claim).
        uint64_t quarantined = page.quarantine_bits[w].load(std::memory_order_relaxed) &
                               ~page.remote_bits[w].load(std::memory_order_relaxed) &
                               ~page.free_bits[w].load(std::memory_order_relaxed);
        totals.quarantined_bytes += __builtin_popcountll(quarantined) * page.block_size;
        not_live += __builtin_popcountll(quarantined);
      }
      totals.live_blocks_per_class[base_class(page.size_class)] += page.used - not_live;
      ++totals.pages_per_class[base_class(page.size_class)];
    }
  }
}

size_t g_peak_live_bytes = 0;

}  // namespace

void statistics_collect(tally_stats* out) {
  Totals totals;
  memset(&totals, 0, sizeof totals);
  heap_for_each(add_heap, &totals);
  memset(out, 0, sizeof *out);
  int64_t small_live = 0;
  for (unsigned c = 0; c < kClassCount; ++c)
    small_live +=
        static_cast<int64_t>(totals.live_blocks_per_class[c] * g_size_classes[c].block_size);
  // Guarded blocks are live too, though no page of a heap holds them.
  out->bytes_live = static_cast<size_t>(small_live) + large_live_bytes() + guard_pool_live_bytes();
  out->bytes_quarantined = totals.quarantined_bytes + large_quarantined_bytes();
  if (out->bytes_live > g_peak_live_bytes) g_peak_live_bytes = out->bytes_live;
  out->bytes_live_peak = g_peak_live_bytes;
  size_t committed_peak =
      g_bytes_committed_peak.load(std::memory_order_relaxed) + large_peak_bytes();
  if (committed_peak > out->bytes_live_peak) out->bytes_live_peak = committed_peak;
  out->bytes_mapped = g_bytes_mapped.load(std::memory_order_relaxed);
  out->bytes_committed = g_bytes_committed.load(std::memory_order_relaxed) + large_live_bytes() +
                         large_cached_committed_bytes() + guard_pool_live_pages_bytes();
  out->resident_bytes = process_resident_bytes();
  out->resident_peak_bytes = process_resident_peak_bytes();
  out->segments = g_segments_in_use.load(std::memory_order_relaxed);
  out->large_blocks = large_live_count();
  out->bad_frees = report_count();
}

void statistics_print() {
  tally_stats stats;
  statistics_collect(&stats);
  Totals totals;
  memset(&totals, 0, sizeof totals);
  heap_for_each(add_heap, &totals);
  char buffer[16384];
  Formatter out(buffer, sizeof buffer);
  uint64_t pid = static_cast<uint64_t>(process_id());
  out.text("==")
      .decimal(pid)
      .text("== tally statistics (mode ")
      .text(mode_name(g_options.mode))
      .text(")\n");
  out.text("  bytes live:        ")
      .bytes(stats.bytes_live)
      .text("  (")
      .decimal(stats.bytes_live)
      .text(" bytes)\n");
  out.text("  peak in use:       ")
      .bytes(stats.bytes_live_peak)
      .text("  (pages and large blocks at their high-water mark)\n");
  out.text("  mapped:            ")
      .bytes(stats.bytes_mapped)
      .text(", committed ")
      .bytes(stats.bytes_committed)
      .character('\n');
  out.text("  resident (RSS):    ")
      .bytes(stats.resident_bytes)
      .text(", peak ")
      .bytes(stats.resident_peak_bytes)
      .character('\n');
  out.text("  segments:          ")
      .decimal(stats.segments)
      .text(", large blocks live ")
      .decimal(stats.large_blocks)
      .text(", heaps ")
      .decimal(totals.heaps)
      .text(" (")
      .decimal(totals.abandoned_heaps)
      .text(" abandoned)\n");
  if (g_huge_pages_slow.load(std::memory_order_relaxed))
    out.text("  huge pages:        turned off (one faulted in slower than small pages would)\n");
  out.text("  errors reported:   ").decimal(stats.bad_frees).character('\n');
  if (g_safety.quarantine)
    out.text("  quarantined:       ").bytes(stats.bytes_quarantined).character('\n');
  if (guard_pool_enabled()) {
    GuardPoolStats guards = guard_pool_stats();
    out.text("  guarded blocks:    ")
        .decimal(guards.guarded)
        .text(" allocated, ")
        .decimal(guards.refused_for_time)
        .text(" refused for time (guard_time_percent)\n");
  }
  if (guard_pool_enabled() || g_safety.protect_large) {
    ProtectionBudgetStats budget = protection_budget_stats();
    out.text("  page protection:   ")
        .decimal(budget.call_nanoseconds / 1000000)
        .text(" ms in system calls, ")
        .decimal(budget.refault_nanoseconds / 1000000)
        .text(" ms of refaults (estimated at ")
        .decimal(budget.refault_cost_per_page)
        .text(" ns a page, ")
        .decimal(budget.dropped_cost_per_page)
        .text(" ns a dropped page), ")
        .decimal(budget.refusals)
        .text(" protections refused for time\n");
  }
  if (totals.stack_walks + totals.stack_memo_hits) {
    size_t depot_stacks = 0, depot_bytes = 0, depot_dropped = 0;
    stack_depot_stats(&depot_stacks, &depot_bytes, &depot_dropped);
    out.text("  stacks recorded:   ")
        .decimal(totals.stack_walks + totals.stack_memo_hits)
        .text(" (")
        .decimal(totals.stack_memo_hits)
        .text(" known from the memo), ")
        .decimal(depot_stacks)
        .text(" distinct in ")
        .bytes(depot_bytes)
        .text(", ")
        .decimal(depot_dropped)
        .text(" dropped; ")
        .decimal(unwind_table_stats().parsed)
        .text(" unwind rules parsed\n");
  }
  out.text("  calls:\n");
  for (unsigned i = 0; i < kApiCallCount; ++i) {
    if (totals.api_calls[i] == 0) continue;
    out.text("    ").text(kCallNames[i]);
    for (size_t pad = strlen(kCallNames[i]); pad < 20; ++pad) out.character(' ');
    out.padded(totals.api_calls[i], 12).character('\n');
  }
  out.text("  blocks per size class (live blocks, pages):\n");
  for (unsigned c = 0; c < kClassCount; ++c) {
    if (totals.pages_per_class[c] == 0) continue;
    out.text("    ")
        .padded(g_size_classes[c].block_size, 8)
        .text(" B  ")
        .padded(totals.live_blocks_per_class[c], 10)
        .text(" blocks  ")
        .padded(totals.pages_per_class[c], 6)
        .text(" pages\n");
  }
  out.text("    large      ")
      .padded(stats.large_blocks, 10)
      .text(" blocks  ")
      .bytes(large_live_bytes())
      .character('\n');
  output_write(out);
}

void statistics_print_options() {
  char buffer[2048];
  Formatter out(buffer, sizeof buffer);
  out.text("==").decimal(static_cast<uint64_t>(process_id())).text("== tally options:");
#define TALLY_OPTION(type, name, default_value, help) \
  out.text(" " #name "=");                            \
  TALLY_PRINT_##type(g_options.name);
#define TALLY_PRINT_bool(value) out.decimal(value ? 1 : 0)
#define TALLY_PRINT_int(value) out.signed_decimal(value)
#define TALLY_PRINT_string(value) out.text(value)
#define TALLY_PRINT_mode(value) out.text(mode_name(value))
#define TALLY_PRINT_size(value) out.decimal(value)
#define TALLY_PRINT_tristate(value) out.text(value < 0 ? "auto" : value ? "1" : "0")
#include "api/option_table.h"
#undef TALLY_OPTION
  out.character('\n');
  output_write(out);
}

}  // namespace tally
