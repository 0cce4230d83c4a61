// Suppression files and the built-in list. The file is read into one mapping that is
// never freed (patterns point into it), with raw system calls.
#include "mark/suppressions.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os/memory.h"
#include "report/output.h"

namespace tally {
namespace {

// Allocations of the C library's own bookkeeping that it reaches only through lists the
// leak check cannot see. In a dynamically linked program these come from the loader's code
// and count as reachable already (api/allocation.h, called_from_loader); the list matters
// where that code cannot be told apart, in a program linked statically with libtally.a.
// LeakSanitizer suppresses the same (its built-in "tls_get_addr", glibc bug 12650).
const char* const kBuiltIn[] = {
    "__tls_get_addr",    // dynamic TLS blocks of threads
    "_dl_allocate_tls",  // a thread's TLS vector, kept with its cached stack
    "allocate_dtv",
    "_dl_map_object",  // link maps of dlopen'ed objects
};

constexpr int kMaxSuppressions = 1024;
Suppression g_suppressions[kMaxSuppressions];
int g_count = 0;
bool g_loaded = false;

void add(const char* pattern, bool built_in) {
  if (g_count == kMaxSuppressions) return;
  g_suppressions[g_count++] = Suppression{pattern, built_in, 0, 0};
}

void complain(const char* what, const char* detail) {
  char buffer[1024];
  Formatter out(buffer, sizeof buffer);
  out.text("==tally== suppressions: ").text(what);
  if (detail) out.text(detail);
  out.character('\n');
  output_write(out);
}

// Matches `pattern` [p, p_end) against `name` from its start; `*` is any run.
bool match_here(const char* pattern, const char* pattern_end, const char* name, bool to_end) {
  while (pattern < pattern_end) {
    if (*pattern == '*') {
      while (pattern < pattern_end && *pattern == '*') ++pattern;
      if (pattern == pattern_end) return true;
      for (const char* at = name; *at; ++at)
        if (match_here(pattern, pattern_end, at, to_end)) return true;
      return false;
    }
    if (*name == '\0' || *name != *pattern) return false;
    ++pattern;
    ++name;
  }
  return !to_end || *name == '\0';
}

}  // namespace

bool suppression_pattern_matches(const char* pattern, const char* name) {
  if (!pattern || !name || !*name) return false;
  size_t length = strlen(pattern);
  bool anchored_start = length > 0 && pattern[0] == '^';
  bool anchored_end = length > 0 && pattern[length - 1] == '$';
  const char* begin = pattern + (anchored_start ? 1 : 0);
  const char* end =
      pattern + length - (anchored_end && length > (anchored_start ? 1u : 0u) ? 1 : 0);
  if (anchored_start) return match_here(begin, end, name, anchored_end);
  for (const char* at = name; *at; ++at)
    if (match_here(begin, end, at, anchored_end)) return true;
  return false;
}

void suppressions_load(const char* path) {
  if (g_loaded) return;
  g_loaded = true;
  for (const char* pattern : kBuiltIn) add(pattern, true);
  if (!path || !*path) return;
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return complain("cannot open ", path);
  constexpr size_t kMaxFile = 1 << 20;
  char* text = static_cast<char*>(os_map(kMaxFile + 1));
  if (!text) {
    syscall(SYS_close, fd);
    return complain("out of memory reading ", path);
  }
  size_t size = 0;
  while (size < kMaxFile) {
    long got = syscall(SYS_read, fd, text + size, kMaxFile - size);
    if (got <= 0) break;
    size += static_cast<size_t>(got);
  }
  syscall(SYS_close, fd);
  text[size] = '\0';
  for (char* line = text; line < text + size;) {
    char* end = line;
    while (end < text + size && *end != '\n') ++end;
    *end = '\0';
    // Trim spaces and a carriage return; skip blanks and comments.
    while (*line == ' ' || *line == '\t') ++line;
    char* last = end;
    while (last > line && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == '\r')) *--last = '\0';
    if (*line && *line != '#') {
      if (strncmp(line, "leak:", 5) == 0 && line[5])
        add(line + 5, false);
      else
        complain("ignored a line that is not 'leak:PATTERN': ", line);
    }
    line = end + 1;
  }
}

Suppression* suppressions_match(const char* const* names, int count) {
  for (int s = 0; s < g_count; ++s)
    for (int i = 0; i < count; ++i)
      if (suppression_pattern_matches(g_suppressions[s].pattern, names[i]))
        return &g_suppressions[s];
  return nullptr;
}

int suppressions_count() {
  return g_count;
}

const Suppression& suppression_at(int index) {
  return g_suppressions[index];
}

}  // namespace tally
