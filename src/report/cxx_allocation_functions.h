// Recognizes code that belongs to a C++ allocation function (any operator new or operator
// delete), by the symbol that holds it. The mismatch check asks this before it reports:
// a program or library with its own copy of these functions (a replaced operator new, a
// private C++ runtime linked into a shared library) calls malloc and free from them, so
// tally sees `new T` as a malloc and `delete[]` as a free while the pairs still match.
//
// Report time only: it may ask the symbolizer (see symbolizer.h for what that may do).
// Answers are cached by address, so a program that frees many such blocks pays for one
// lookup per call site.
#pragma once

#include <stdint.h>

namespace tally {

enum class CxxAllocationFunction : uint8_t { kNeither, kOperatorNew, kOperatorDelete };

// Which kind of C++ allocation function holds the instruction at `pc` (pass a return
// address minus one), in any of its forms: array, aligned, nothrow, sized.
CxxAllocationFunction cxx_allocation_function_at(uintptr_t pc);

// Classifies a symbol name, mangled (`_Znwm`, `_ZdaPv`) or demangled
// (`operator new(unsigned long)`).
CxxAllocationFunction cxx_allocation_function_named(const char* name);

}  // namespace tally
