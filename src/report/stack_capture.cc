// Report-time stack capture with the C library's unwinder (execinfo), which reads unwind
// tables and so works for code built without frame pointers. It may allocate the first time
// (it loads libgcc_s); that is safe because reports never run with an allocator lock held.
#include "report/stack_capture.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <string.h>

namespace tally {

int stack_capture(uintptr_t* frames, int capacity, uintptr_t first_user_pc) {
  void* raw[kMaxReportFrames + 16];
  int wanted = capacity + 16 < kMaxReportFrames + 16 ? capacity + 16 : kMaxReportFrames + 16;
  int count = backtrace(raw, wanted);
  int first = 0;
  if (first_user_pc) {
    for (int i = 0; i < count; ++i) {
      if (reinterpret_cast<uintptr_t>(raw[i]) == first_user_pc) {
        first = i;
        break;
      }
    }
  }
  int stored = 0;
  for (int i = first; i < count && stored < capacity; ++i) {
    // Return addresses point after the call; step back into it so lines resolve right.
    uintptr_t pc = reinterpret_cast<uintptr_t>(raw[i]);
    frames[stored++] = i == 0 ? pc : pc - 1;
  }
  return stored;
}

void stack_format_location(Formatter& out, uintptr_t pc) {
  Dl_info info;
  memset(&info, 0, sizeof info);
  if (dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_fname) {
    const char* module = info.dli_fname[0] ? info.dli_fname : "<main program>";
    out.character('(')
        .text(module)
        .character('+')
        .hex(pc - reinterpret_cast<uintptr_t>(info.dli_fbase))
        .character(')');
    if (info.dli_sname) out.text(" in ").text(info.dli_sname);
  } else {
    out.text("(<unknown module>)");
  }
}

void stack_format_frame(Formatter& out, int number, uintptr_t pc) {
  Dl_info info;
  memset(&info, 0, sizeof info);
  out.text("    #").decimal(static_cast<uint64_t>(number)).character(' ').hex(pc);
  if (dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_fname) {
    if (info.dli_sname) out.text(" in ").text(info.dli_sname);
    const char* module = info.dli_fname[0] ? info.dli_fname : "<main program>";
    out.text(" (")
        .text(module)
        .character('+')
        .hex(pc - reinterpret_cast<uintptr_t>(info.dli_fbase))
        .character(')');
  } else {
    out.text(" (<unknown module>)");
  }
  out.character('\n');
}

}  // namespace tally
