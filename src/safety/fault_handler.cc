// The SIGSEGV/SIGBUS handler. It looks only at whether the address is in tally's
// registry; the callback decides whether the fault is about a block (a guarded one, or a
// quarantined large one), writes the report and ends the process. Other faults are handed on: to
// the previous handler if there was one, else the default action is restored and the faulting
// instruction runs again.
#include "safety/fault_handler.h"

#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "core/registry.h"

namespace tally {
namespace {

struct sigaction g_previous_segv;
struct sigaction g_previous_bus;
GuardFaultReporter g_reporter = nullptr;

void pass_on(int signal_number, siginfo_t* info, void* context) {
  struct sigaction& previous = signal_number == SIGBUS ? g_previous_bus : g_previous_segv;
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) return previous.sa_sigaction(signal_number, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    return previous.sa_handler(signal_number);
  }
  // Default action: restore it; returning re-runs the instruction, which faults again.
  signal(signal_number, SIG_DFL);
}

void handle_fault(int signal_number, siginfo_t* info, void* context) {
  uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  if (!g_reporter || registry_lookup(address) == 0) return pass_on(signal_number, info, context);
  ucontext_t* ucontext = static_cast<ucontext_t*>(context);
  GuardFault fault;
  fault.address = address;
  fault.pc = static_cast<uintptr_t>(ucontext->uc_mcontext.gregs[REG_RIP]);
  // Bit 1 of the page-fault error code is set for writes.
  fault.is_write = (ucontext->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  fault.context = context;
  // The reporter returns only if the fault is not tally's or the report could not end the
  // process.
  g_reporter(fault);
  pass_on(signal_number, info, context);
}

}  // namespace

void fault_handler_install(GuardFaultReporter reporter) {
  g_reporter = reporter;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = handle_fault;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &g_previous_segv);
  sigaction(SIGBUS, &action, &g_previous_bus);
}

}  // namespace tally
