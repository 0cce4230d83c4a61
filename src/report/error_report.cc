// Report writers. A report is built in a stack buffer and written in one call, so reports
// from racing threads never interleave; a global lock orders them and, when the process is
// about to end, keeps any other thread from writing half a report after ours.
#include "report/error_report.h"

#include <unistd.h>

#include <atomic>

#include "core/config.h"
#include "os/process.h"
#include "report/output.h"
#include "report/stack_capture.h"

namespace tally {
namespace {

ReportPolicy g_policy = {true, 1};
SpinLock g_report_lock;
std::atomic<size_t> g_report_count{0};
__thread bool t_in_report = false;

const char kSeparator[] = "=================================================================\n";

void write_frames(Formatter& out, const uintptr_t* frames, int count) {
  for (int i = 0; i < count; ++i) stack_format_frame(out, i, frames[i]);
  if (count == 0) out.text("    <empty stack>\n");
}

void describe_block(Formatter& out, uintptr_t address, BlockExtent block) {
  if (block.size == 0) return;
  out.character('\n')
      .hex(address)
      .text(" is located ")
      .decimal(address - block.start)
      .text(" bytes inside of ")
      .decimal(block.size)
      .text("-byte region [")
      .hex(block.start)
      .character(',')
      .hex(block.start + block.size)
      .text(")\n");
}

[[noreturn]] void die(int pid) {
  char buffer[256];
  Formatter out(buffer, sizeof buffer);
  out.text("==")
      .decimal(static_cast<uint64_t>(pid))
      .text(
          "==HINT: TALLY_OPTIONS=halt_on_error=0 reports bad frees and carries on without them\n");
  out.text("==").decimal(static_cast<uint64_t>(pid)).text("==ABORTING\n");
  output_write(out);
  _exit(g_policy.exitcode);
}

// Writes the report in `out` and ends the process or returns, per the policy.
void finish(Formatter& out, int pid) {
  g_report_count.fetch_add(1, std::memory_order_relaxed);
  g_report_lock.lock();
  output_write(out);
  if (g_policy.halt_on_error) die(pid);  // keeps the lock: no other report follows ours
  g_report_lock.unlock();
}

TALLY_COLD void bad_free_report(const char* headline_kind, const char* summary_kind,
                                uintptr_t address, BlockExtent block, uintptr_t caller_pc,
                                bool address_after_kind) {
  if (t_in_report) return;  // a report that faults into another one must not loop
  t_in_report = true;
  uintptr_t frames[kMaxReportFrames];
  int count = stack_capture(frames, kMaxReportFrames, caller_pc);
  char local[16384];
  Formatter out(local, sizeof local);
  int pid = process_id();
  out.text(kSeparator)
      .text("==")
      .decimal(static_cast<uint64_t>(pid))
      .text("==ERROR: tally: ")
      .text(headline_kind);
  if (address_after_kind)
    out.text(" on ").hex(address);
  else
    out.text(": ").hex(address);
  out.text(" in thread T").decimal(current_thread_number()).text(address_after_kind ? ":\n" : "\n");
  write_frames(out, frames, count);
  describe_block(out, address, block);
  out.text("\nSUMMARY: tally: ").text(summary_kind).character(' ');
  if (count > 0) stack_format_location(out, frames[0]);
  out.character('\n');
  finish(out, pid);
  t_in_report = false;
}

}  // namespace

void report_set_policy(ReportPolicy policy) {
  g_policy = policy;
}

void report_double_free(uintptr_t address, BlockExtent block, uintptr_t caller_pc) {
  bad_free_report("attempting double-free", "attempting double-free", address, block, caller_pc,
                  true);
}

void report_invalid_free(uintptr_t address, BlockExtent containing_block, uintptr_t caller_pc) {
  bad_free_report("attempting free on address which was not malloc()-ed", "bad-free", address,
                  containing_block, caller_pc, false);
}

void report_late_double_free(uintptr_t address, size_t block_size) {
  // The block was freed by its owner and by another thread at the same moment; this
  // thread found both frees when collecting. The stack shows where it found them.
  bad_free_report("attempting double-free", "attempting double-free", address,
                  BlockExtent{address, block_size}, 0, true);
}

void report_option_problem(const char* message, const char* key, size_t key_length) {
  char local[512];
  Formatter out(local, sizeof local);
  out.text("==")
      .decimal(static_cast<uint64_t>(process_id()))
      .text("==WARNING: tally: ")
      .text(message);
  if (key) out.text(": '").text(key, key_length).character('\'');
  out.character('\n');
  output_write(out);
}

size_t report_count() {
  return g_report_count.load(std::memory_order_relaxed);
}

}  // namespace tally
