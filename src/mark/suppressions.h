// Leak suppressions: `leak:PATTERN` lines from the file named by the `suppressions` option,
// and a built-in list for one-time allocations of the C and C++ runtimes that are
// unreachable by design. A leak is suppressed when any frame of its allocation stack has
// a function or module name that the pattern matches: `*` matches any run of characters,
// a leading `^` or trailing `$` anchors the match to the start or end of the name, and
// otherwise the pattern may match anywhere in the name (as in LeakSanitizer).
//
// Each suppression counts the leaks and bytes it suppressed, for the "Suppressions used"
// table of the report. Report time only: loading reads a file, matching symbolizes.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

struct Suppression {
  const char* pattern;
  bool built_in;
  uint64_t leaks;  // allocations suppressed
  uint64_t bytes;
};

// Reads the suppressions file (once; later calls reuse it). Problems (unreadable file,
// unknown kind in a line) are reported on stderr once and the line is skipped.
void suppressions_load(const char* path);
// The first suppression that matches any of the names, or nullptr.
Suppression* suppressions_match(const char* const* names, int count);
int suppressions_count();
const Suppression& suppression_at(int index);

// The matcher itself (exposed for tests).
bool suppression_pattern_matches(const char* pattern, const char* name);

}  // namespace tally
