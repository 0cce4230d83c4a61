// Shared report pieces (see the header).
#include "report/report_format.h"

#include "report/stack_capture.h"
#include "report/stack_depot.h"
#include "report/symbolizer.h"

namespace tally {

void text_depot_stack(Formatter& out, uint32_t stack_id) {
  uintptr_t frames[kMaxReportFrames];
  int count = stack_id ? stack_depot_get(stack_id, frames, kMaxReportFrames) : 0;
  int number = 0;
  for (int i = 0; i < count; ++i) number = stack_format_frame(out, number, frames[i]);
  if (count == 0) out.text("    <stack not recorded>\n");
}

void json_string(Formatter& out, const char* text) {
  out.character('"');
  for (const char* c = text; c && *c; ++c) {
    unsigned char byte = static_cast<unsigned char>(*c);
    if (byte == '"' || byte == '\\') {
      out.character('\\').character(static_cast<char>(byte));
    } else if (byte < 0x20) {
      out.text("\\u00")
          .character("0123456789abcdef"[byte >> 4])
          .character("0123456789abcdef"[byte & 15]);
    } else {
      out.character(static_cast<char>(byte));
    }
  }
  out.character('"');
}

void json_hex(Formatter& out, uint64_t value) {
  out.character('"').hex(value).character('"');
}

void json_frames(Formatter& out, const uintptr_t* frames, int count) {
  out.character('[');
  bool first = true;
  for (int i = 0; i < count; ++i) {
    static SymbolizedFrame symbolized[8];  // under the report lock; too big for the stack
    int found = symbolize(stack_frame_pc(frames[i]), symbolized, 8);
    for (int j = 0; j < found; ++j) {
      if (!first) out.character(',');
      first = false;
      const SymbolizedFrame& frame = symbolized[j];
      out.text("{\"pc\":");
      json_hex(out, stack_frame_pc(frames[i]));
      out.text(",\"function\":");
      json_string(out, frame.function);
      out.text(",\"file\":");
      json_string(out, frame.file);
      out.text(",\"line\":").decimal(static_cast<uint64_t>(frame.line > 0 ? frame.line : 0));
      out.text(",\"module\":");
      json_string(out, frame.module);
      out.text(",\"offset\":");
      json_hex(out, frame.module_offset);
      if (frame.build_id[0]) {
        out.text(",\"build_id\":");
        json_string(out, frame.build_id);
      }
      out.character('}');
    }
  }
  out.character(']');
}

void json_depot_stack(Formatter& out, uint32_t stack_id) {
  uintptr_t frames[kMaxReportFrames];
  int count = stack_id ? stack_depot_get(stack_id, frames, kMaxReportFrames) : 0;
  json_frames(out, frames, count);
}

}  // namespace tally
