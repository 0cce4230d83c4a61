// sigaction and signal, wrapped: while tally's SIGSEGV/SIGBUS handler is installed (safe
// and debug mode), a handler the program sets for those signals is recorded as the one
// tally hands faults on to, instead of replacing tally's (safety/fault_handler.h). Every
// other call goes to the C library's sigaction, under its other name __sigaction. signal
// keeps glibc's semantics: the signal itself blocked while its handler runs, and system
// calls restarted.
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "core/config.h"
#include "safety/fault_handler.h"

extern "C" int __sigaction(int signal_number, const struct sigaction* action,
                           struct sigaction* old_action);

extern "C" {

TALLY_EXPORT int sigaction(int signal_number, const struct sigaction* action,
                           struct sigaction* old_action) {
  if (tally::fault_handler_takes_sigaction(signal_number, action, old_action)) return 0;
  return __sigaction(signal_number, action, old_action);
}

TALLY_EXPORT sighandler_t signal(int signal_number, sighandler_t handler) {
  if (handler == SIG_ERR || signal_number < 1 || signal_number >= NSIG) {
    errno = EINVAL;
    return SIG_ERR;
  }
  struct sigaction action, old_action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, signal_number);
  action.sa_flags = SA_RESTART;
  if (sigaction(signal_number, &action, &old_action) < 0) return SIG_ERR;
  return old_action.sa_handler;
}

}  // extern "C"
