// The SIGSEGV/SIGBUS handler. It looks only at whether the address is in tally's
// registry; the callback decides whether the fault is about a block (a guarded one, or a
// quarantined large one), writes the report and ends the process. Other faults are handed on: to
// the program's handler if it has one, else they are reported with their stack (a crash
// through a pointer read out of a freed block says so: the poison is in a register), the
// default action is restored and the faulting instruction runs again, so the process still
// dies of the signal (and dumps core where it would have). A SIGSEGV or SIGBUS that a
// process sent (raise, kill) is no fault: it goes to the program's handler, or is raised
// again with the default action.
//
// Programs install handlers of their own for these signals (redis and ruby at start-up,
// node for WebAssembly, python with faulthandler), after tally's. The program's sigaction
// and signal calls for them are taken here (api/signal_overrides.cc) while tally's handler
// is installed: what the program sets is recorded as the handler to hand on to, and what
// it reads back is its own. Otherwise its handler replaced tally's, and a use after free
// that faulted on a guard page was reported as the program's crash, without the stacks.
// tally's handler runs on the alternate signal stack where the thread has one, as the
// program's may need to (ruby turns a stack overflow into an exception so).
//
// A fault at an instruction of tally's own code is tally's bug, not the program's: tally
// never touches a guarded page on purpose. Such a fault may come while tally holds its
// locks (the leak check holds every allocator lock), where a heap-bug report, which
// symbolizes and so allocates, would deadlock; it gets one line written with plain system
// calls, then the default action.
#include "safety/fault_handler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "core/registry.h"
#include "os/process.h"
#include "safety/safety_config.h"

// The C library's sigaction under its other name, which the override does not replace.
extern "C" int __sigaction(int signal_number, const struct sigaction* action,
                           struct sigaction* old_action);

namespace tally {
namespace {

// The program's handlers: what was installed before tally's, then what the program set.
struct sigaction g_previous_segv;
struct sigaction g_previous_bus;
bool g_installed = false;  // tally's handler is the kernel's for both signals
GuardFaultReporter g_reporter = nullptr;
WildFaultReporter g_wild_reporter = nullptr;

void report_wild(int signal_number, siginfo_t* info, void* context);

struct sigaction& program_action(int signal_number) {
  return signal_number == SIGBUS ? g_previous_bus : g_previous_segv;
}

// Gives the signal back to the kernel's default action for good (the process is about to
// die of it); the program's later sigaction calls for it reach the kernel again.
void restore_default(int signal_number) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  __sigaction(signal_number, &action, nullptr);
  g_installed = false;
}

void pass_on(int signal_number, siginfo_t* info, void* context) {
  struct sigaction program = program_action(signal_number);
  bool sent = info->si_code <= 0;  // SI_USER, SI_TKILL, SI_QUEUE: a process sent it
  if (signal_action_runs_handler(program)) {
    // As the kernel would have run it: its mask blocked, and reset first if it asked.
    if (program.sa_flags & SA_RESETHAND) {
      struct sigaction& recorded = program_action(signal_number);
      memset(&recorded, 0, sizeof recorded);
      recorded.sa_handler = SIG_DFL;
    }
    sigset_t blocked = program.sa_mask, saved;
    if (!(program.sa_flags & SA_NODEFER)) sigaddset(&blocked, signal_number);
    pthread_sigmask(SIG_BLOCK, &blocked, &saved);
    if (program.sa_flags & SA_SIGINFO)
      program.sa_sigaction(signal_number, info, context);
    else
      program.sa_handler(signal_number);
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    return;
  }
  if (sent) {
    if (program.sa_handler == SIG_IGN) return;
    restore_default(signal_number);
    raise(signal_number);  // not blocked (SA_NODEFER): the default action ends the process
    return;
  }
  if (g_wild_reporter && program.sa_handler == SIG_DFL) report_wild(signal_number, info, context);
  // Default action (a fault cannot be ignored): restore it; returning re-runs the
  // instruction, which faults again.
  restore_default(signal_number);
}

// A word of a freed block's poison, give or take a field offset: what a pointer read out of
// a freed block holds (a non-canonical address, so the fault itself reports address 0).
bool looks_poisoned(uint64_t value) {
  return (value >> 16) == 0x0101010101010101ull * kPoisonByte >> 16;
}

// Formats without the C library (its printf may allocate): "==PID==ERROR: tally: internal
// fault ...".
TALLY_COLD void report_internal_fault(uintptr_t address, uintptr_t pc) {
  char line[160];
  size_t length = 0;
  auto text = [&](const char* part) {
    while (*part && length < sizeof line) line[length++] = *part++;
  };
  auto number = [&](uint64_t value, unsigned base) {
    char digits[24];
    int count = 0;
    do {
      digits[count++] = "0123456789abcdef"[value % base];
      value /= base;
    } while (value);
    while (count > 0 && length < sizeof line) line[length++] = digits[--count];
  };
  text("==");
  number(static_cast<uint64_t>(process_id()), 10);
  text("==ERROR: tally: internal fault on address 0x");
  number(address, 16);
  text(" at pc 0x");
  number(pc, 16);
  text(" (tally's own code: a bug in tally, please report it)\n");
  write_all(2, line, length);
}

TALLY_COLD void report_wild(int signal_number, siginfo_t* info, void* context) {
  static const struct {
    const char* name;
    int index;
  } kRegisters[] = {{"rax", REG_RAX}, {"rbx", REG_RBX}, {"rcx", REG_RCX}, {"rdx", REG_RDX},
                    {"rsi", REG_RSI}, {"rdi", REG_RDI}, {"rbp", REG_RBP}, {"r8", REG_R8},
                    {"r9", REG_R9},   {"r10", REG_R10}, {"r11", REG_R11}, {"r12", REG_R12},
                    {"r13", REG_R13}, {"r14", REG_R14}, {"r15", REG_R15}};
  const ucontext_t* ucontext = static_cast<const ucontext_t*>(context);
  uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  uintptr_t pc = static_cast<uintptr_t>(ucontext->uc_mcontext.gregs[REG_RIP]);
  if (address_in_tally_code(pc)) return report_internal_fault(address, pc);
  const char* poisoned_register = nullptr;
  uintptr_t poisoned_value = 0;
  for (const auto& candidate : kRegisters) {
    uint64_t value = static_cast<uint64_t>(ucontext->uc_mcontext.gregs[candidate.index]);
    if (looks_poisoned(value)) {
      poisoned_register = candidate.name;
      poisoned_value = value;
      break;
    }
  }
  g_wild_reporter(signal_number == SIGBUS ? "BUS" : "SEGV", address, info->si_code != SI_KERNEL, pc,
                  poisoned_register, poisoned_value);
}

void handle_fault(int signal_number, siginfo_t* info, void* context) {
  uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  // Ours: an address in a tally mapping, or just below one (an underflow of a large block,
  // which starts where its mapping does).
  bool near_ours = registry_lookup(address) != 0 ||
                   (address <= UINTPTR_MAX - kOsPageSize && registry_lookup(address + kOsPageSize));
  // A signal a process sent has no fault address (si_addr overlaps the sender's pid).
  if (!g_reporter || info->si_code <= 0 || !near_ours) return pass_on(signal_number, info, context);
  ucontext_t* ucontext = static_cast<ucontext_t*>(context);
  GuardFault fault;
  fault.address = address;
  fault.pc = static_cast<uintptr_t>(ucontext->uc_mcontext.gregs[REG_RIP]);
  if (address_in_tally_code(fault.pc)) {
    report_internal_fault(address, fault.pc);
    restore_default(signal_number);  // the program's handler cannot mend tally's state
    return;
  }
  // Bit 1 of the page-fault error code is set for writes.
  fault.is_write = (ucontext->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  fault.context = context;
  // The reporter returns only if the fault is not tally's or halt_on_error=0 let the report
  // return. The program goes on then, and the report's system calls (symbolizing, writing)
  // must not show in its errno.
  int saved_errno = errno;
  GuardFaultOutcome outcome = g_reporter(fault);
  errno = saved_errno;
  switch (outcome) {
    case GuardFaultOutcome::kCarryOn:
      return;
    case GuardFaultOutcome::kReportedOnly:
      // Reported once is enough. The memory is not tally's: it may be the program's own,
      // which its handler serves (a JIT's or a collector's guard pages); without one, the
      // access faults again under the default action.
      if (signal_action_runs_handler(program_action(signal_number)))
        return pass_on(signal_number, info, context);
      restore_default(signal_number);
      return;
    case GuardFaultOutcome::kNotOurs:
      break;
  }
  pass_on(signal_number, info, context);
}

}  // namespace

void fault_handler_install(GuardFaultReporter reporter, WildFaultReporter wild_reporter) {
  g_reporter = reporter;
  g_wild_reporter = wild_reporter;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = handle_fault;
  action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  __sigaction(SIGSEGV, &action, &g_previous_segv);
  __sigaction(SIGBUS, &action, &g_previous_bus);
  g_installed = true;
}

bool fault_handler_takes_sigaction(int signal_number, const struct sigaction* action,
                                   struct sigaction* old_action) {
  if (!g_installed || (signal_number != SIGSEGV && signal_number != SIGBUS)) return false;
  struct sigaction& recorded = program_action(signal_number);
  struct sigaction previous = recorded;
  if (action) recorded = *action;
  if (old_action) *old_action = previous;
  return true;
}

}  // namespace tally
