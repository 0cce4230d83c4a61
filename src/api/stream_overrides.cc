// close and fclose, wrapped to see descriptor 2 go: when output is due at exit (the leak
// check, statistics) and the program closes its stderr first, as every program built with
// gnulib's close_stdout does, tally keeps a copy of it for that output
// (report/output.h). Taking the copy at start showed a descriptor of tally's in every
// program's /proc/self/fd. Everything else goes to the C library's functions under their
// other names, which glibc exports for this.
#include <stdio.h>
#include <unistd.h>

#include "core/config.h"
#include "report/output.h"

extern "C" int __close(int fd);
extern "C" int _IO_fclose(FILE* stream);

extern "C" {

TALLY_EXPORT int close(int fd) {
  if (fd == STDERR_FILENO) tally::output_stderr_closing();
  return __close(fd);
}

TALLY_EXPORT int fclose(FILE* stream) {
  // stderr, or any other stream a program made on descriptor 2.
  if (stream == stderr || (stream != nullptr && fileno(stream) == STDERR_FILENO))
    tally::output_stderr_closing();
  return _IO_fclose(stream);
}

}  // extern "C"
