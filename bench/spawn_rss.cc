// spawn_rss: runs one command and reports its exit status and peak RSS, for bench/run.py.
//
// The runner cannot take the peak RSS from its own os.wait4: a child forked from the Python
// runner starts as a copy of it, and ru_maxrss remembers that copy's RSS across the exec,
// so every measurement would be at least the runner's size. This helper is exec'd first
// (becoming a small process), forks the command from there and reports the command's
// ru_maxrss, which now starts from this helper's few hundred KiB.
//
// usage: spawn_rss RESULT_FILE PROGRAM [ARGS...]
// The command gets LD_PRELOAD=$BENCH_CHILD_PRELOAD when that is set (the helper itself is
// not preloaded). RESULT_FILE receives "<wait status> <ru_maxrss in KiB> <user+system CPU
// time in microseconds>\n" (both for the command and the descendants it waited for). Exit status:
// 0 when the command was run and waited for (whatever its own status), 125 on an error of
// the helper, 127 when the command could not be executed.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s RESULT_FILE PROGRAM [ARGS...]\n", argv[0]);
    return 125;
  }
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("spawn_rss: fork");
    return 125;
  }
  if (pid == 0) {
    const char* preload = std::getenv("BENCH_CHILD_PRELOAD");
    if (preload != nullptr) {
      if (*preload != '\0') setenv("LD_PRELOAD", preload, 1);
      unsetenv("BENCH_CHILD_PRELOAD");
    }
    execvp(argv[2], argv + 2);
    std::fprintf(stderr, "spawn_rss: cannot execute %s: %s\n", argv[2], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage usage;
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      std::perror("spawn_rss: wait4");
      return 125;
    }
  }
  std::FILE* out = std::fopen(argv[1], "w");
  if (out == nullptr) {
    std::perror("spawn_rss: result file");
    return 125;
  }
  long cpu_us = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000L +
                usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
  std::fprintf(out, "%d %ld %ld\n", status, usage.ru_maxrss, cpu_us);
  return std::fclose(out) == 0 ? 0 : 125;
}
