// The heap-bug reports of the checked modes, each a Report for report_writer.
#include "report/heap_bug_report.h"

#include "core/config.h"
#include "report/access_size.h"
#include "report/report_writer.h"
#include "report/stack_capture.h"

namespace tally {
namespace {

Report report_for(const char* kind, uintptr_t address, const BlockHistory& block) {
  Report report{};
  report.kind = kind;
  report.address = address;
  report.block_start = block.start;
  report.block_size = block.size;
  report.free_stack = block.free_stack;
  report.alloc_stack = block.alloc_stack;
  report.free_thread = block.free_thread;
  report.alloc_thread = block.alloc_thread;
  report.freed = block.freed;
  report.memory_corrupting = true;
  return report;
}

// A double free of a block whose history is known (a note may follow).
Report double_free_report(uintptr_t address, const BlockHistory& block) {
  Report report = report_for("attempting double-free", address, block);
  report.headline = ReportHeadline::kOn;
  report.freed = true;
  return report;
}

void emit_with_stack(Report& report, uintptr_t first_pc) {
  uintptr_t frames[kMaxReportFrames];
  report.frames = frames;
  report.frame_count = report_capture_stack(frames, kMaxReportFrames, first_pc);
  report_emit(report);
}

// The stack of a fault, from the faulting instruction `pc`. Stacks hold return addresses,
// printed and symbolized one byte back, inside the call; the faulting instruction is no
// return address: kept one byte on, it prints as itself (a fault on a function's first
// instruction was named after the function laid out before it).
void emit_with_fault_stack(Report& report, uintptr_t pc) {
  uintptr_t frames[kMaxReportFrames];
  report.frames = frames;
  report.frame_count = report_capture_stack(frames, kMaxReportFrames, pc);
  if (report.frame_count > 0 && frames[0] == pc) frames[0] = pc + 1;
  report_emit(report);
}

}  // namespace

TALLY_COLD void report_guard_fault(const char* kind, uintptr_t address, bool is_write, uintptr_t pc,
                                   const BlockHistory& block) {
  Report report = report_for(kind, address, block);
  report.access = is_write ? "WRITE" : "READ";
  // The instruction's bytes are mapped: the processor has just fetched them.
  report.access_size = instruction_access_size(reinterpret_cast<const uint8_t*>(pc), 15);
  emit_with_fault_stack(report, pc);
}

TALLY_COLD void report_wild_fault(const char* kind, uintptr_t address, bool address_known,
                                  uintptr_t pc, const char* poisoned_register,
                                  uintptr_t poisoned_value) {
  Report report{};
  report.kind = kind;
  // A non-canonical address faults with no address reported: printing si_addr's 0 would
  // send the reader after a null pointer. AddressSanitizer leaves it out too.
  report.headline =
      address_known ? ReportHeadline::kUnknownAddress : ReportHeadline::kAddressNotReported;
  report.address = address;
  report.pc = pc;
  char note[320];
  if (poisoned_register) {
    Formatter text(note, sizeof note - 1);
    text.text("HINT: register ")
        .text(poisoned_register)
        .text(" holds ")
        .hex(poisoned_value)
        .text(
            ", tally's poison of freed blocks (bytes 0xdf): the program read a pointer out of "
            "a freed block and followed it (heap-use-after-free). TALLY_OPTIONS=mode=debug "
            "catches the read itself.");
    note[text.length()] = '\0';
    report.note = note;
  } else if (!address_known) {
    report.note =
        "HINT: the processor reported no address: a general protection fault, most often "
        "through a non-canonical pointer (a wild or corrupted one), else a misaligned "
        "aligned-vector access or a privileged instruction.";
  }
  emit_with_fault_stack(report, pc);
}

TALLY_COLD void report_overflow_found_at_free(uintptr_t address, const BlockHistory& block,
                                              uintptr_t caller) {
  Report report = report_for("heap-buffer-overflow", address, block);
  report.freed = false;  // the free that found it is the report's own stack
  report.note = address < block.start
                    ? "The bytes before the block were overwritten; found when the block was freed."
                    : "The bytes after the block were overwritten; found when the block was freed.";
  emit_with_stack(report, caller);
}

TALLY_COLD void report_overflow_found_at_exit(uintptr_t address, const BlockHistory& block) {
  Report report = report_for("heap-buffer-overflow", address, block);
  report.freed = false;
  report.note = address < block.start
                    ? "The bytes before the block were overwritten; found at exit, in a block "
                      "that was never freed."
                    : "The bytes after the block were overwritten; found at exit, in a block "
                      "that was never freed.";
  // The stack is exit's; the allocation names the block.
  report.summary_stack = block.alloc_stack;
  emit_with_stack(report, 0);
}

TALLY_COLD void report_write_after_free(uintptr_t address, const BlockHistory& block) {
  Report report = report_for("heap-use-after-free", address, block);
  report.note =
      "A WRITE to the freed block happened while it was in quarantine; found when the block left "
      "the quarantine.";
  report.summary_stack = block.free_stack;
  emit_with_stack(report, 0);
}

TALLY_COLD void report_alloc_dealloc_mismatch(uintptr_t address, const char* allocated_with,
                                              const char* freed_with, const BlockHistory& block,
                                              uintptr_t caller) {
  char detail[96];
  Formatter text(detail, sizeof detail - 1);
  text.character('(').text(allocated_with).text(" vs ").text(freed_with).character(')');
  detail[text.length()] = '\0';
  Report report = report_for("alloc-dealloc-mismatch", address, block);
  report.kind_detail = detail;
  report.freed = false;
  report.note = "HINT: TALLY_OPTIONS=alloc_dealloc_mismatch=0 turns this check off";
  emit_with_stack(report, caller);
}

TALLY_COLD void report_new_delete_size_mismatch(uintptr_t address, size_t deleted_size,
                                                const BlockHistory& block, uintptr_t caller) {
  char explanation[160];
  Formatter text(explanation, sizeof explanation - 1);
  text.text("  object passed to delete has wrong type:\n  size of the allocated type:   ")
      .decimal(block.size)
      .text(" bytes;\n  size of the deallocated type: ")
      .decimal(deleted_size)
      .text(" bytes.");
  explanation[text.length()] = '\0';
  Report report = report_for("new-delete-type-mismatch", address, block);
  report.headline = ReportHeadline::kOn;
  report.explanation = explanation;
  report.freed = false;
  report.note =
      "HINT: a class deleted through a pointer to its base needs a virtual destructor; "
      "TALLY_OPTIONS=new_delete_type_mismatch=0 turns this check off";
  emit_with_stack(report, caller);
}

TALLY_COLD void report_invalid_free_with_history(uintptr_t address, const BlockHistory& block,
                                                 uintptr_t caller) {
  Report report =
      report_for("attempting free on address which was not malloc()-ed", address, block);
  report.summary_kind = "bad-free";
  report.headline = ReportHeadline::kColon;
  report.freed = false;
  emit_with_stack(report, caller);
}

TALLY_COLD void report_double_free_with_history(uintptr_t address, const BlockHistory& block,
                                                uintptr_t caller) {
  Report report = double_free_report(address, block);
  emit_with_stack(report, caller);
}

TALLY_COLD void report_double_free_of_departed(uintptr_t address, const BlockHistory& block,
                                               BlockExtent now_inside, uintptr_t caller) {
  Report report = double_free_report(address, block);
  char note[320];
  Formatter text(note, sizeof note - 1);
  text.text("The block's guard slot has been reused since");
  if (now_inside.size != 0) {
    text.text(": ")
        .hex(address)
        .text(" is now ")
        .decimal(address - now_inside.start)
        .text(" bytes inside a live ")
        .decimal(now_inside.size)
        .text("-byte region [")
        .hex(now_inside.start)
        .text(",")
        .hex(now_inside.start + now_inside.size)
        .text("); a pointer derived from that block would make this a bad free instead.");
  } else {
    text.text(".");
  }
  note[text.length()] = '\0';
  report.note = note;
  emit_with_stack(report, caller);
}

}  // namespace tally
