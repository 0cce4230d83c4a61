// How many bytes the x86-64 instruction at a faulting pc reads or writes through its memory
// operand, for the report's "READ of size N" line (AddressSanitizer's compiler instrumentation
// knows it; a fault handler must read it off the instruction). Decodes the instruction
// forms that access memory in compiled C and C++ code and in the C library's string
// functions: integer moves and arithmetic, sign and zero extension, string instructions,
// SSE, AVX and AVX-512 moves and compares. 0 when the form is not one of those.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

// `code` points at the instruction's first byte; at most `available` bytes are read.
size_t instruction_access_size(const uint8_t* code, size_t available);

}  // namespace tally
