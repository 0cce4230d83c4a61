// The SIGSEGV/SIGBUS handler. It decides only whether the fault is tally's (the address
// lies in the guard pool); the report itself is written by the callback, which ends the
// process. Other faults are handed on: to the previous handler if there was one, else
// the default action is restored and the faulting instruction runs again.
#include "safety/fault_handler.h"

#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "safety/guard_pool.h"

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
  if (!g_reporter || !guard_pool_contains(address)) return pass_on(signal_number, info, context);
  ucontext_t* ucontext = static_cast<ucontext_t*>(context);
  GuardFault fault;
  fault.address = address;
  fault.pc = static_cast<uintptr_t>(ucontext->uc_mcontext.gregs[REG_RIP]);
  // Bit 1 of the page-fault error code is set for writes.
  fault.is_write = (ucontext->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  fault.context = context;
  g_reporter(fault);
  // The reporter returns only if the report could not end the process.
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
