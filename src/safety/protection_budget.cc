// The page-protection budget (protection_budget.h). The bucket may go below zero: a
// protection that was allowed charges what it cost even when that overdraws, and the
// overdraft is paid back by the time that must pass before the next one is allowed.
#include "safety/protection_budget.h"

#include <errno.h>
#include <sys/mman.h>

#include <atomic>

#include "core/config.h"
#include "os/memory.h"
#include "os/process.h"

namespace tally {
namespace {

constexpr int64_t kBudgetCap = 20 * 1000 * 1000;  // 20 ms of protection work banked at most
// If the measurement fails: a bare-metal figure.
constexpr uint64_t kDefaultRefaultNanoseconds = 200;
constexpr uint64_t kDefaultDroppedNanoseconds = 500;
// Until the measurement: a virtual machine's figures (3.5-4 us here, 8-9 us for a dropped
// page), so that no early protection is undercharged. The measurement waits until the protections
// have drawn the bucket down to half: it costs four dozen faults, six mprotect and three madvise
// calls, about half a millisecond that every short process (a shell script's every command guards
// a block or two) paid for nothing.
constexpr uint64_t kUnmeasuredRefaultNanoseconds = 4000;
constexpr uint64_t kUnmeasuredDroppedNanoseconds = 9000;
constexpr size_t kProbePages = 8;

std::atomic<uint32_t> g_time_percent{0};
std::atomic<int64_t> g_budget{kBudgetCap};  // nanoseconds
std::atomic<uint64_t> g_filled_at{0};
std::atomic<uint64_t> g_call_nanoseconds{0};
std::atomic<uint64_t> g_refault_nanoseconds{0};
std::atomic<uint64_t> g_refusals{0};

enum : int { kUnmeasured, kMeasuring, kMeasured };
std::atomic<int> g_probe_state{kUnmeasured};
std::atomic<uint64_t> g_refault_cost{0};  // per page; 0 until measured
std::atomic<uint64_t> g_dropped_cost{0};  // per page; 0 until measured

// Times the first write to pages whose protection was just taken away and given back:
// the refault every protected page pays when it is used again; and to pages just dropped
// (what a guard marker does to the pages it covers). The best of three rounds, so a
// preemption does not inflate them.
TALLY_COLD void measure_fault_costs(uint64_t* refault, uint64_t* dropped) {
  *refault = kDefaultRefaultNanoseconds;
  *dropped = kDefaultDroppedNanoseconds;
  size_t size = kProbePages * kOsPageSize;
  void* probe = os_map(size);
  if (!probe) return;
  volatile char* bytes = static_cast<volatile char*>(probe);
  auto touch_all = [&](char value) {
    uint64_t started = monotonic_nanoseconds();
    for (size_t page = 0; page < kProbePages; ++page) bytes[page * kOsPageSize] = value;
    return monotonic_nanoseconds() - started;
  };
  touch_all(1);
  uint64_t best_refault = UINT64_MAX, best_dropped = UINT64_MAX;
  int saved_errno = errno;
  for (int round = 0; round < 3; ++round) {
    if (mprotect(probe, size, PROT_NONE) != 0 || mprotect(probe, size, PROT_READ | PROT_WRITE) != 0)
      break;
    uint64_t took = touch_all(2);
    if (took < best_refault) best_refault = took;
    if (madvise(probe, size, MADV_DONTNEED) != 0) break;
    took = touch_all(3);
    if (took < best_dropped) best_dropped = took;
  }
  errno = saved_errno;
  os_unmap(probe, size);
  if (best_refault != UINT64_MAX) *refault = best_refault / kProbePages + 1;
  if (best_dropped != UINT64_MAX) *dropped = best_dropped / kProbePages + 1;
}

uint64_t refault_cost_per_page() {
  uint64_t cost = g_refault_cost.load(std::memory_order_relaxed);
  return TALLY_LIKELY(cost) ? cost : kUnmeasuredRefaultNanoseconds;
}

uint64_t dropped_cost_per_page() {
  uint64_t cost = g_dropped_cost.load(std::memory_order_relaxed);
  return TALLY_LIKELY(cost) ? cost : kUnmeasuredDroppedNanoseconds;
}

// Measures the refault cost once the bucket is down to half (see above).
void measure_when_it_matters() {
  if (TALLY_LIKELY(g_refault_cost.load(std::memory_order_relaxed)) ||
      g_budget.load(std::memory_order_relaxed) > kBudgetCap / 2)
    return;
  int expected = kUnmeasured;
  if (g_probe_state.compare_exchange_strong(expected, kMeasuring, std::memory_order_acq_rel)) {
    uint64_t refault, dropped;
    measure_fault_costs(&refault, &dropped);
    g_dropped_cost.store(dropped, std::memory_order_relaxed);
    g_refault_cost.store(refault, std::memory_order_relaxed);
    g_probe_state.store(kMeasured, std::memory_order_release);
  }
}

}  // namespace

void protection_budget_set_time_percent(uint32_t percent) {
  g_time_percent.store(percent, std::memory_order_relaxed);
  g_filled_at.store(monotonic_nanoseconds(), std::memory_order_relaxed);
  g_budget.store(kBudgetCap, std::memory_order_relaxed);
}

bool protection_budget_allows() {
  uint32_t percent = g_time_percent.load(std::memory_order_relaxed);
  if (percent == 0) return true;
  measure_when_it_matters();  // before a protection, not during one
  uint64_t now = monotonic_nanoseconds();
  uint64_t last = g_filled_at.load(std::memory_order_relaxed);
  // One thread claims each interval of time passed, so no interval is earned twice.
  if (now > last && g_filled_at.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    int64_t earned = static_cast<int64_t>((now - last) / 100 * percent);
    int64_t budget = g_budget.load(std::memory_order_relaxed);
    int64_t filled;
    do {
      filled = budget + earned < kBudgetCap ? budget + earned : kBudgetCap;
    } while (!g_budget.compare_exchange_weak(budget, filled, std::memory_order_relaxed));
    return filled > 0;
  }
  return g_budget.load(std::memory_order_relaxed) > 0;
}

uint64_t protection_budget_clock() {
  return g_time_percent.load(std::memory_order_relaxed) ? monotonic_nanoseconds() : 0;
}

namespace {
void charge(uint64_t started, uint64_t faults_nanoseconds) {
  uint64_t call = monotonic_nanoseconds() - started;
  g_budget.fetch_sub(static_cast<int64_t>(call + faults_nanoseconds), std::memory_order_relaxed);
  g_call_nanoseconds.fetch_add(call, std::memory_order_relaxed);
  g_refault_nanoseconds.fetch_add(faults_nanoseconds, std::memory_order_relaxed);
}
}  // namespace

void protection_budget_charge(uint64_t started, size_t pages_refaulted) {
  if (started != 0) charge(started, pages_refaulted * refault_cost_per_page());
}

void protection_budget_charge_dropped(uint64_t started, size_t pages_dropped) {
  if (started != 0) charge(started, pages_dropped * dropped_cost_per_page());
}

void protection_budget_note_refusal() {
  g_refusals.fetch_add(1, std::memory_order_relaxed);
}

ProtectionBudgetStats protection_budget_stats() {
  return ProtectionBudgetStats{g_call_nanoseconds.load(std::memory_order_relaxed),
                               g_refault_nanoseconds.load(std::memory_order_relaxed),
                               refault_cost_per_page(),
                               dropped_cost_per_page(),
                               g_refault_cost.load(std::memory_order_relaxed) != 0,
                               g_refusals.load(std::memory_order_relaxed)};
}

}  // namespace tally
