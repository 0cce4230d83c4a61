// Pieces of report text and JSON shared by every report writer (heap bugs, leaks): depot
// stacks as numbered, symbolized frames, and JSON strings, addresses and frame arrays.
// Report time only (they symbolize).
#pragma once

#include <stdint.h>

#include "report/output.h"

namespace tally {

// ASan's numbered frame lines for a depot stack, or "<stack not recorded>".
void text_depot_stack(Formatter& out, uint32_t stack_id);

void json_string(Formatter& out, const char* text);
void json_hex(Formatter& out, uint64_t value);
// An array of symbolized frames ({pc, function, file, line, module, offset}).
void json_frames(Formatter& out, const uintptr_t* frames, int count);
void json_depot_stack(Formatter& out, uint32_t stack_id);

}  // namespace tally
