// One report, described once and written twice: as text in AddressSanitizer's layout to
// the sink (stderr or log_path.PID), and as one JSON object per line to log_path.PID.json
// when log_path is set. Reports are serialized with each other, never allocate through
// tally's books before they are written, and end the process when the policy says so.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

// How the first line names the address, as AddressSanitizer does per kind.
enum class ReportHeadline : uint8_t {
  kOnAddress,           // "KIND on address ADDR in thread Tn"
  kOn,                  // "attempting double-free on ADDR in thread Tn:"
  kColon,               // "attempting free on address which was not malloc()-ed: ADDR in thread Tn"
  kUnknownAddress,      // "SEGV on unknown address ADDR (pc PC T0)": a fault outside the heap
  kAddressNotReported,  // "SEGV on unknown address (pc PC T0)": a non-canonical address
};

struct Report {
  const char* kind;          // "heap-use-after-free", "attempting double-free", ...
  const char* kind_detail;   // optional, after the kind: "(operator new vs free)"
  const char* summary_kind;  // the SUMMARY's kind when it differs ("bad-free")
  uintptr_t address;
  uintptr_t pc;  // the faulting instruction (kUnknownAddress)
  ReportHeadline headline;
  const char* explanation;  // optional lines right after the ERROR line (no newline at the end)
  const char* access;       // "READ" / "WRITE" for a caught access, else nullptr
  size_t access_size;       // 0: unknown, printed as '?'
  const uintptr_t* frames;  // the access stack, or where the bug was found
  int frame_count;
  // The block the address belongs to or is nearest to; block_size 0 when none.
  uintptr_t block_start;
  size_t block_size;
  uint32_t free_stack;  // stack depot ids, 0 when not recorded
  uint32_t alloc_stack;
  uint16_t free_thread;
  uint16_t alloc_thread;
  bool freed;              // print "freed by thread Tn here:" (when its stack is known)
  bool memory_corrupting;  // halt_on_error applies (all heap bugs are, today)
  const char* note;        // an extra line before SUMMARY, or nullptr
  // When set, the SUMMARY names this stack's first frame instead of the report's own: a
  // bug found late (at release from quarantine, at exit) is better placed by the free than
  // by where it was found (an exit handler of the C library).
  uint32_t summary_stack;
};

// Writes the report; ends the process (status `exitcode`) when halt_on_error is set.
void report_emit(const Report& report);
// Captures the calling thread's stack for a report, starting at `first_pc` when found.
int report_capture_stack(uintptr_t* frames, int capacity, uintptr_t first_pc);

}  // namespace tally
