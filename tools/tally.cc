// The `tally` command: runs a program with libtally preloaded and TALLY_OPTIONS set.
//
//   tally run [--mode=M] [--stats] [--log-path=P] [--options=K=V:...] -- PROG ARGS...
//   tally --help | --version | --help-options
//
// The library is found through $TALLY_LIBRARY, next to this executable (build tree), or
// in ../lib beside it (install tree).
#include "tally.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

struct OptionHelp {
  const char* type;
  const char* name;
  const char* default_value;
  const char* help;
};

const OptionHelp kOptions[] = {
#define TALLY_OPTION(type, name, default_value, help) {#type, #name, default_value, help},
#include "../src/api/option_table.h"
#undef TALLY_OPTION
};

void print_usage(FILE* out) {
  fprintf(out,
          "usage: tally run [--mode=safe] [--stats] [--log-path=PATH] [--options=K=V:...] -- "
          "PROG [ARGS...]\n"
          "       tally --help | --version | --help-options\n\n"
          "Runs PROG with libtally.so preloaded: a fast malloc whose books catch every double\n"
          "free and every free of a pointer it never handed out, and, by mode, more.\n\n"
          "  --mode=M         fast: the allocator and its books; safe (the default): adds a\n"
          "                   quarantine with poison, canaries and sampled guard pages; debug:\n"
          "                   adds all stacks, guard pages, mismatch and leak checks\n"
          "  --stats          print tally's statistics when the program exits\n"
          "  --log-path=PATH  write reports to PATH.PID instead of stderr\n"
          "  --options=OPTS   more TALLY_OPTIONS, colon-separated key=value\n\n"
          "The exit status is the program's. See `tally --help-options` for every option.\n");
}

// The README's table is this output; tests/docs checks that they agree.
void print_options_markdown() {
  printf("| option | type | default | meaning |\n|---|---|---|---|\n");
  for (const OptionHelp& option : kOptions) {
    printf("| `%s` | %s | %s | %s |\n", option.name, option.type,
           option.default_value[0] ? (std::string("`") + option.default_value + "`").c_str()
                                   : "(empty)",
           option.help);
  }
}

void print_options() {
  printf("TALLY_OPTIONS is a colon-separated list of key=value:\n\n");
  for (const OptionHelp& option : kOptions) {
    printf("  %-14s %-7s default %-6s %s\n", option.name, option.type,
           option.default_value[0] ? option.default_value : "\"\"", option.help);
  }
}

std::string directory_of_self() {
  char path[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return ".";
  path[length] = '\0';
  std::string result(path);
  size_t slash = result.rfind('/');
  return slash == std::string::npos ? "." : result.substr(0, slash);
}

std::string find_library() {
  if (const char* explicit_path = getenv("TALLY_LIBRARY")) return explicit_path;
  std::string self = directory_of_self();
  const std::string candidates[] = {self + "/libtally.so", self + "/../lib/libtally.so",
                                    TALLY_LIBRARY_BUILD_PATH, TALLY_LIBRARY_INSTALL_PATH};
  for (const std::string& candidate : candidates) {
    if (access(candidate.c_str(), R_OK) == 0) {
      char resolved[PATH_MAX];
      return realpath(candidate.c_str(), resolved) ? resolved : candidate;
    }
  }
  return "";
}

int run(int argc, char** argv) {
  std::vector<std::string> options;
  int index = 0;
  for (; index < argc; ++index) {
    std::string argument = argv[index];
    if (argument == "--") {
      ++index;
      break;
    }
    if (argument.rfind("--mode=", 0) == 0) {
      std::string mode = argument.substr(7);
      // Checked here, where a typo can stop the run: the library would only warn and
      // run the program in the default mode.
      if (mode != "fast" && mode != "safe" && mode != "debug" && mode != "gc") {
        fprintf(stderr, "tally: unknown mode '%s' (fast, safe or debug)\n\n", mode.c_str());
        print_usage(stderr);
        return 2;
      }
      options.push_back("mode=" + mode);
    } else if (argument == "--stats") {
      options.push_back("stats=1");
    } else if (argument.rfind("--log-path=", 0) == 0) {
      options.push_back("log_path=" + argument.substr(11));
    } else if (argument.rfind("--options=", 0) == 0) {
      options.push_back(argument.substr(10));
    } else if (argument.rfind("--", 0) == 0) {
      fprintf(stderr, "tally: unknown flag '%s'\n\n", argument.c_str());
      print_usage(stderr);
      return 2;
    } else {
      break;  // the program, without a "--" before it
    }
  }
  if (index >= argc) {
    fprintf(stderr, "tally: no program to run\n\n");
    print_usage(stderr);
    return 2;
  }
  std::string library = find_library();
  if (library.empty()) {
    fprintf(stderr, "tally: cannot find libtally.so; set TALLY_LIBRARY to its path\n");
    return 2;
  }
  std::string preload = library;
  if (const char* existing = getenv("LD_PRELOAD"); existing && *existing)
    preload += std::string(":") + existing;
  setenv("LD_PRELOAD", preload.c_str(), 1);
  std::string tally_options;
  if (const char* existing = getenv("TALLY_OPTIONS"); existing && *existing)
    tally_options = existing;
  for (const std::string& option : options) {
    if (!tally_options.empty()) tally_options += ':';
    tally_options += option;
  }
  if (!tally_options.empty()) setenv("TALLY_OPTIONS", tally_options.c_str(), 1);
  execvp(argv[index], argv + index);
  fprintf(stderr, "tally: cannot run '%s': %s\n", argv[index], strerror(errno));
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    print_usage(stdout);
    return 0;
  }
  if (command == "--version") {
    printf("tally %s\n", TALLY_VERSION);
    return 0;
  }
  if (command == "--help-options") {
    print_options();
    return 0;
  }
  if (command == "--help-options=markdown") {
    print_options_markdown();
    return 0;
  }
  if (command == "run") return run(argc - 2, argv + 2);
  fprintf(stderr, "tally: unknown command '%s'\n\n", command.c_str());
  print_usage(stderr);
  return 2;
}
