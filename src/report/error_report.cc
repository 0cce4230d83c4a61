// The report policy (halt or carry on, exit status), the lock that orders reports, and the
// bad-free reports of every mode. Reports themselves are rendered by report_writer.cc.
#include "report/error_report.h"

#include <unistd.h>

#include <atomic>

#include "core/config.h"
#include "os/process.h"
#include "report/output.h"
#include "report/report_writer.h"
#include "report/stack_capture.h"

namespace tally {
namespace {

ReportPolicy g_policy = {true, 1};
SpinLock g_report_lock;
std::atomic<size_t> g_report_count{0};

[[noreturn]] void die(int pid) {
  char buffer[256];
  Formatter out(buffer, sizeof buffer);
  out.text("==").decimal(static_cast<uint64_t>(pid));
  out.text("==HINT: TALLY_OPTIONS=halt_on_error=0 reports errors like this one and carries on\n");
  out.text("==").decimal(static_cast<uint64_t>(pid)).text("==ABORTING\n");
  output_write(out);
  _exit(g_policy.exitcode);
}

TALLY_COLD void bad_free_report(Report& report, uintptr_t caller_pc) {
  uintptr_t frames[kMaxReportFrames];
  report.frames = frames;
  report.frame_count = report_capture_stack(frames, kMaxReportFrames, caller_pc);
  report.memory_corrupting = true;
  report_emit(report);
}

}  // namespace

void report_set_policy(ReportPolicy policy) {
  g_policy = policy;
}

void report_double_free(uintptr_t address, BlockExtent block, uintptr_t caller_pc) {
  Report report{};
  report.kind = "attempting double-free";
  report.headline = ReportHeadline::kOn;
  report.address = address;
  report.block_start = block.start;
  report.block_size = block.size;
  bad_free_report(report, caller_pc);
}

void report_invalid_free(uintptr_t address, BlockExtent containing_block, uintptr_t caller_pc) {
  Report report{};
  report.kind = "attempting free on address which was not malloc()-ed";
  report.summary_kind = "bad-free";
  report.headline = ReportHeadline::kColon;
  report.address = address;
  report.block_start = containing_block.start;
  report.block_size = containing_block.size;
  bad_free_report(report, caller_pc);
}

void report_late_double_free(uintptr_t address, size_t block_size) {
  // The block was freed by its owner and by another thread at the same moment; this
  // thread found both frees when collecting. The stack shows where it found them.
  Report report{};
  report.kind = "attempting double-free";
  report.headline = ReportHeadline::kOn;
  report.address = address;
  report.block_start = address;
  report.block_size = block_size;
  report.note = "Two threads freed this block at once; found when its owner collected the frees.";
  bad_free_report(report, 0);
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

void report_lock_acquire(bool counted) {
  if (counted) report_count_error();
  g_report_lock.lock();
}

void report_count_error() {
  g_report_count.fetch_add(1, std::memory_order_relaxed);
}

void report_lock_release_or_die(int pid, bool memory_corrupting) {
  if (g_policy.halt_on_error && memory_corrupting) die(pid);  // keeps the lock
  g_report_lock.unlock();
}

}  // namespace tally
