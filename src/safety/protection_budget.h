// The page-protection budget. Safe and debug modes make memory inaccessible with mprotect
// (guard pages, quarantined large blocks), and what that costs is more than the system
// call: every page whose protection changed faults again at its next access, and with
// several processors each change interrupts the others to flush their TLBs. Under a
// hypervisor's shadow page tables that refault costs about 5 microseconds a page (measured
// on our CI machines: 150 times the cost of writing the page), on bare metal a tenth of a
// microsecond.
//
// One process-wide token bucket of nanoseconds is filled at guard_time_percent of the
// time that passes and spent by the measured time of every protection call plus an
// estimate of the refaults it causes (pages × a per-page cost: a virtual machine's 4 us
// until the bucket is down to half, then measured once; short programs never pay for the
// measurement). An empty bucket refuses: the caller falls back to
// canaries and poison, so a busy program slows by a bounded share instead of tenfold.
// Lock-free: any thread may ask and charge.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

// 0: no limit (nothing is timed).
void protection_budget_set_time_percent(uint32_t percent);
// True while the bucket holds time; fills it for the time passed since the last call.
bool protection_budget_allows();
// A timestamp for protection_budget_charge, 0 when there is no limit.
uint64_t protection_budget_clock();
// Charges the time since `started` plus `pages_refaulted` refaults.
void protection_budget_charge(uint64_t started, size_t pages_refaulted);
// Charges the time since `started` plus `pages_dropped` first touches of pages the change
// dropped (guard markers discard what they cover): a page fault that allocates and clears
// a page, two and a half times a refault on this virtual machine (8.5 against 3.4 us).
void protection_budget_charge_dropped(uint64_t started, size_t pages_dropped);
// Counts a protection the budget refused (statistics only).
void protection_budget_note_refusal();

struct ProtectionBudgetStats {
  uint64_t call_nanoseconds;       // measured in mprotect/mremap calls
  uint64_t refault_nanoseconds;    // estimated refaults (and faults of dropped pages) charged
  uint64_t refault_cost_per_page;  // the estimates in use
  uint64_t dropped_cost_per_page;
  bool refault_cost_measured;  // measured (else the virtual machine's figure)
  uint64_t refusals;           // protections turned away
};
ProtectionBudgetStats protection_budget_stats();

}  // namespace tally
