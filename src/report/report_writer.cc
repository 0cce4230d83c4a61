// Rendering and emitting reports. The text follows AddressSanitizer's layout; the JSON
// object carries the same fields with symbolized frames. Both are built in buffers on the
// stack of the reporting thread (reports may run in a signal handler or inside free).
#include "report/report_writer.h"

#include <unistd.h>

#include <atomic>

#include "core/config.h"
#include "os/process.h"
#include "report/error_report.h"
#include "report/output.h"
#include "report/report_format.h"
#include "report/stack_capture.h"
#include "report/stack_depot.h"
#include "report/symbolizer.h"

namespace tally {
namespace {

const char kSeparator[] = "=================================================================\n";

// "N bytes inside of", "N bytes to the right of", "N bytes to the left of".
void text_location(Formatter& out, uintptr_t address, uintptr_t start, size_t size) {
  out.hex(address).text(" is located ");
  if (address < start)
    out.decimal(start - address).text(" bytes to the left of ");
  else if (address >= start + size && !(size == 0 && address == start))
    out.decimal(address - (start + size)).text(" bytes to the right of ");
  else
    out.decimal(address - start).text(" bytes inside of ");
  out.decimal(size).text("-byte region [").hex(start).character(',').hex(start + size).text(")\n");
}

void write_json(const Report& report, int pid, uint32_t thread) {
  static char buffer[65536];  // only under the report lock
  Formatter out(buffer, sizeof buffer - 1);
  out.text("{\"tool\":\"tally\",\"pid\":").decimal(static_cast<uint64_t>(pid));
  out.text(",\"kind\":");
  json_string(out, report.kind);
  if (report.kind_detail) {
    out.text(",\"detail\":");
    json_string(out, report.kind_detail);
  }
  if (report.explanation) {
    out.text(",\"explanation\":");
    json_string(out, report.explanation);
  }
  out.text(",\"address\":");
  if (report.headline == ReportHeadline::kAddressNotReported)
    out.text("null");  // the processor reported none (a non-canonical address)
  else
    json_hex(out, report.address);
  out.text(",\"thread\":").decimal(thread);
  if (report.access) {
    out.text(",\"access\":{\"type\":");
    json_string(out, report.access);
    out.text(",\"size\":").decimal(report.access_size).character('}');
  }
  out.text(",\"stack\":");
  json_frames(out, report.frames, report.frame_count);
  if (report.block_size || report.block_start) {
    out.text(",\"block\":{\"start\":");
    json_hex(out, report.block_start);
    out.text(",\"size\":").decimal(report.block_size);
    out.text(",\"offset\":")
        .signed_decimal(static_cast<int64_t>(report.address - report.block_start));
    out.character('}');
  }
  if (report.freed && report.free_stack) {
    out.text(",\"freed_by\":{\"thread\":").decimal(report.free_thread).text(",\"stack\":");
    json_depot_stack(out, report.free_stack);
    out.character('}');
  }
  if (report.alloc_stack) {
    out.text(",\"allocated_by\":{\"thread\":").decimal(report.alloc_thread).text(",\"stack\":");
    json_depot_stack(out, report.alloc_stack);
    out.character('}');
  }
  out.text("}\n");
  output_write_json(out.data(), out.length());
}

__thread bool t_in_report = false;

__thread bool t_capturing = false;

}  // namespace

int report_capture_stack(uintptr_t* frames, int capacity, uintptr_t first_pc) {
  // The unwinder may call into the allocator (dlsym's error strings); a report raised from
  // there must not capture again.
  if (t_capturing) return 0;
  t_capturing = true;
  int count = stack_capture(frames, capacity, first_pc);
  t_capturing = false;
  if (first_pc) return count;
  // No entry point to start from: drop tally's own frames (the report machinery).
  int first = 0;
  while (first < count && address_in_tally_code(stack_frame_pc(frames[first]))) ++first;
  if (first == count) return count;  // statically linked: keep everything
  for (int i = first; i < count; ++i) frames[i - first] = frames[i];
  return count - first;
}

TALLY_COLD void report_emit(const Report& report) {
  if (t_in_report) return;  // a report that faults into another one must not loop
  t_in_report = true;
  static char buffer[65536];  // filled under the report lock
  report_lock_acquire();
  int pid = process_id();
  uint32_t thread = current_thread_number();
  Formatter out(buffer, sizeof buffer);
  out.text(kSeparator)
      .text("==")
      .decimal(static_cast<uint64_t>(pid))
      .text("==ERROR: tally: ")
      .text(report.kind);
  if (report.kind_detail) out.character(' ').text(report.kind_detail);
  switch (report.headline) {
    case ReportHeadline::kOnAddress:
      out.text(" on address ")
          .hex(report.address)
          .text(" in thread T")
          .decimal(thread)
          .character('\n');
      break;
    case ReportHeadline::kOn:
      out.text(" on ").hex(report.address).text(" in thread T").decimal(thread).text(":\n");
      break;
    case ReportHeadline::kColon:
      out.text(": ").hex(report.address).text(" in thread T").decimal(thread).character('\n');
      break;
    case ReportHeadline::kUnknownAddress:
    case ReportHeadline::kAddressNotReported:
      out.text(" on unknown address ");
      if (report.headline == ReportHeadline::kUnknownAddress)
        out.hex(report.address).character(' ');
      out.text("(pc ").hex(report.pc).text(" T").decimal(thread).text(")\n");
      break;
  }
  if (report.explanation) out.text(report.explanation).character('\n');
  if (report.access) {
    out.text(report.access).text(" of size ");
    if (report.access_size)
      out.decimal(report.access_size);
    else
      out.character('?');
    out.text(" at ").hex(report.address).text(" thread T").decimal(thread).character('\n');
  }
  int number = 0;
  for (int i = 0; i < report.frame_count; ++i)
    number = stack_format_frame(out, number, report.frames[i]);
  if (report.frame_count == 0) out.text("    <empty stack>\n");
  if (report.block_size || report.block_start) {
    out.character('\n');
    text_location(out, report.address, report.block_start, report.block_size);
  }
  if (report.freed && report.free_stack) {
    out.text("\nfreed by thread T").decimal(report.free_thread).text(" here:\n");
    text_depot_stack(out, report.free_stack);
  }
  if (report.alloc_stack) {
    out.text("\npreviously allocated by thread T").decimal(report.alloc_thread).text(" here:\n");
    text_depot_stack(out, report.alloc_stack);
  }
  if (report.note) out.character('\n').text(report.note).character('\n');
  out.text("\nSUMMARY: tally: ")
      .text(report.summary_kind ? report.summary_kind : report.kind)
      .character(' ');
  uintptr_t summary_frame;
  if (report.summary_stack && stack_depot_get(report.summary_stack, &summary_frame, 1) > 0)
    stack_format_location(out, summary_frame);
  else if (report.frame_count > 0)
    stack_format_location(out, report.frames[0]);
  out.character('\n');
  output_write(out);
  write_json(report, pid, thread);
  report_lock_release_or_die(pid, report.memory_corrupting);
  t_in_report = false;
}

}  // namespace tally
