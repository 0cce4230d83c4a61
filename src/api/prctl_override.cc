// prctl, wrapped: a program that asks for no new privileges or sets a seccomp filter is
// about to filter its system calls (an unprivileged filter needs no-new-privileges first,
// and libseccomp asks for it through here, though it loads the filter itself with the
// seccomp system call, which tally does not see). tally then stops making the calls it makes only
// to save work, which such a filter may not list (os/process.h, process_may_make_optional_calls):
// sshd's pre-login child was killed by SIGSYS when debug mode asked mincore which pages of a freed
// buffer were in memory. The call itself goes to the kernel unchanged.
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/config.h"
#include "os/process.h"

extern "C" TALLY_EXPORT int prctl(int option, ...) {
  va_list arguments;
  va_start(arguments, option);
  unsigned long second = va_arg(arguments, unsigned long);
  unsigned long third = va_arg(arguments, unsigned long);
  unsigned long fourth = va_arg(arguments, unsigned long);
  unsigned long fifth = va_arg(arguments, unsigned long);
  va_end(arguments);
  int result = static_cast<int>(syscall(SYS_prctl, option, second, third, fourth, fifth));
  // Noted once the kernel agreed (a refused filter filters nothing), before this thread,
  // the only one a prctl filter covers, can make another call.
  if (result == 0) {
    if (option == PR_SET_SECCOMP)
      tally::process_note_system_call_filter(true);
    else if (option == PR_SET_NO_NEW_PRIVS && second != 0)
      tally::process_note_system_call_filter(false);
  }
  return result;
}
