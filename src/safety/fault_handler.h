// Turns a fault in a guarded area into a precise report. Installed for SIGSEGV and SIGBUS
// when guard pages are in use; any fault elsewhere goes to the handler that was there
// before (the program's, or the default action).
#pragma once

#include <stdint.h>

namespace tally {

// What a fault in the guard pool was: filled in by the handler, reported by the callback.
struct GuardFault {
  uintptr_t address;
  uintptr_t pc;
  bool is_write;
  void* context;  // ucontext_t*
};
// Reports the fault and ends the process if it is tally's; returns false otherwise.
using GuardFaultReporter = bool (*)(const GuardFault& fault);

void fault_handler_install(GuardFaultReporter reporter);

}  // namespace tally
