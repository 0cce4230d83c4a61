// The SIGSEGV/SIGBUS handler. It looks only at whether the address is in tally's
// registry; the callback decides whether the fault is about a block (a guarded one, or a
// quarantined large one), writes the report and ends the process. Other faults are handed on: to
// the previous handler if there was one, else they are reported with their stack (a crash
// through a pointer read out of a freed block says so: the poison is in a register), the
// default action is restored and the faulting instruction runs again, so the process still
// dies of the signal (and dumps core where it would have).
//
// A fault at an instruction of tally's own code is tally's bug, not the program's: tally
// never touches a guarded page on purpose. Such a fault may come while tally holds its
// locks (the leak check holds every allocator lock), where a heap-bug report, which
// symbolizes and so allocates, would deadlock; it gets one line written with plain system
// calls, then the default action.
#include "safety/fault_handler.h"

#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "core/registry.h"
#include "os/process.h"
#include "safety/safety_config.h"

namespace tally {
namespace {

struct sigaction g_previous_segv;
struct sigaction g_previous_bus;
GuardFaultReporter g_reporter = nullptr;
WildFaultReporter g_wild_reporter = nullptr;

void report_wild(int signal_number, siginfo_t* info, void* context);

void pass_on(int signal_number, siginfo_t* info, void* context) {
  struct sigaction& previous = signal_number == SIGBUS ? g_previous_bus : g_previous_segv;
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) return previous.sa_sigaction(signal_number, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    return previous.sa_handler(signal_number);
  }
  if (g_wild_reporter && previous.sa_handler == SIG_DFL) report_wild(signal_number, info, context);
  // Default action: restore it; returning re-runs the instruction, which faults again.
  signal(signal_number, SIG_DFL);
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
  g_wild_reporter(signal_number == SIGBUS ? "BUS" : "SEGV", address, pc, poisoned_register,
                  poisoned_value);
}

void handle_fault(int signal_number, siginfo_t* info, void* context) {
  uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  // Ours: an address in a tally mapping, or just below one (an underflow of a large block,
  // which starts where its mapping does).
  bool near_ours = registry_lookup(address) != 0 ||
                   (address <= UINTPTR_MAX - kOsPageSize && registry_lookup(address + kOsPageSize));
  if (!g_reporter || !near_ours) return pass_on(signal_number, info, context);
  ucontext_t* ucontext = static_cast<ucontext_t*>(context);
  GuardFault fault;
  fault.address = address;
  fault.pc = static_cast<uintptr_t>(ucontext->uc_mcontext.gregs[REG_RIP]);
  if (address_in_tally_code(fault.pc)) {
    report_internal_fault(address, fault.pc);
    signal(signal_number, SIG_DFL);  // the program's handler cannot mend tally's state
    return;
  }
  // Bit 1 of the page-fault error code is set for writes.
  fault.is_write = (ucontext->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  fault.context = context;
  // The reporter returns only if the fault is not tally's or the report could not end the
  // process.
  g_reporter(fault);
  pass_on(signal_number, info, context);
}

}  // namespace

void fault_handler_install(GuardFaultReporter reporter, WildFaultReporter wild_reporter) {
  g_reporter = reporter;
  g_wild_reporter = wild_reporter;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = handle_fault;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &g_previous_segv);
  sigaction(SIGBUS, &action, &g_previous_bus);
}

}  // namespace tally
