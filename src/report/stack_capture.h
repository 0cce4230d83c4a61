// Stacks for reports. `stack_capture` is for report time only (it may run the C library's
// unwinder); `stack_format_frame` turns a frame into `#N 0xPC in symbol (module+0xOFFSET)`.
// Full symbolization to file:line comes from an external symbolizer at report time.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "report/output.h"

namespace tally {

constexpr int kMaxReportFrames = 64;

// Captures the calling thread's stack, dropping the frames above `first_user_pc` (tally's
// own) when it is found. Returns the number of frames stored.
int stack_capture(uintptr_t* frames, int capacity, uintptr_t first_user_pc);

// Appends one frame line; `pc` is an instruction address inside the call.
void stack_format_frame(Formatter& out, int number, uintptr_t pc);
// Appends `(module+0xOFFSET) in symbol` for the SUMMARY line.
void stack_format_location(Formatter& out, uintptr_t pc);

}  // namespace tally
