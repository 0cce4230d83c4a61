// Turns a fault in a guarded area into a precise report. Installed for SIGSEGV and SIGBUS
// when guard pages or the quarantine are in use; any fault elsewhere goes to the handler
// that was there before (the program's), or is reported with its stack before the default
// action ends the process.
#pragma once

#include <signal.h>
#include <stdint.h>

namespace tally {

// What a fault in the guard pool was: filled in by the handler, reported by the callback.
struct GuardFault {
  uintptr_t address;
  uintptr_t pc;
  bool is_write;
  void* context;  // ucontext_t*
};
// What the callback made of a fault (it ends the process itself under halt_on_error=1).
enum class GuardFaultOutcome {
  kNotOurs,       // no block's: the handler passes the fault on
  kCarryOn,       // reported, and the page opened: the access runs when the handler returns
  kReportedOnly,  // reported, nothing to open (not tally's memory): the default action ends it
};
using GuardFaultReporter = GuardFaultOutcome (*)(const GuardFault& fault);
// Reports a fault that is no block's and that no handler of the program takes, before the
// default action ends the process: `kind` is "SEGV" or "BUS"; `address_known` is false for
// an access to a non-canonical address (a general protection fault: the processor reports
// no address, si_addr is 0); `poisoned_register` names a register holding a value of the
// freed blocks' poison (nullptr if none does).
using WildFaultReporter = void (*)(const char* kind, uintptr_t address, bool address_known,
                                   uintptr_t pc, const char* poisoned_register,
                                   uintptr_t poisoned_value);

void fault_handler_install(GuardFaultReporter reporter, WildFaultReporter wild_reporter);

// For the program's sigaction and signal (api/signal_overrides.cc): while tally's handler
// is installed, a SIGSEGV or SIGBUS handler the program sets is recorded as the one faults
// that are not tally's go to, and `old_action` gets the program's previous one; true then.
// False for any other signal, or once tally's handler is gone: the call is the kernel's.
bool fault_handler_takes_sigaction(int signal_number, const struct sigaction* action,
                                   struct sigaction* old_action);

}  // namespace tally
