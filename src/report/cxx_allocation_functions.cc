// Recognizing operator new and operator delete by name, for the mismatch check; see the
// header. The cache is a small table that forgets the oldest answer when full: call sites
// that free through such functions are few (a program's replaced operators, one runtime
// copy per library), and a miss only costs a symbolization.
#include "report/cxx_allocation_functions.h"

#include <string.h>

#include "core/config.h"
#include "os/process.h"
#include "report/symbolizer.h"

namespace tally {
namespace {

struct CachedAnswer {
  uintptr_t pc;
  CxxAllocationFunction answer;
};

constexpr unsigned kCachedAnswers = 64;
SpinLock g_cache_lock;
CachedAnswer g_cache[kCachedAnswers];
unsigned g_cache_next = 0;

bool starts_with(const char* text, const char* prefix) {
  return strncmp(text, prefix, strlen(prefix)) == 0;
}

// `operator new...` at the start of a demangled name or right after a scope (a class's
// own operator new, which a delete without a matching class operator delete undoes with
// the global one).
bool names_operator(const char* name, const char* operator_name) {
  size_t length = strlen(operator_name);
  for (const char* at = strstr(name, operator_name); at; at = strstr(at + 1, operator_name)) {
    bool at_start = at == name || (at >= name + 2 && at[-1] == ':' && at[-2] == ':');
    char after = at[length];
    // "operator new(" / "operator new[](" but not "operator newline_helper(".
    if (at_start && (after == '(' || after == '[' || after == '<')) return true;
  }
  return false;
}

}  // namespace

CxxAllocationFunction cxx_allocation_function_named(const char* name) {
  if (!name || !*name) return CxxAllocationFunction::kNeither;
  // Mangled global operators: nw new, na new[], dl delete, da delete[].
  if (starts_with(name, "_Znw") || starts_with(name, "_Zna"))
    return CxxAllocationFunction::kOperatorNew;
  if (starts_with(name, "_Zdl") || starts_with(name, "_Zda"))
    return CxxAllocationFunction::kOperatorDelete;
  if (names_operator(name, "operator new")) return CxxAllocationFunction::kOperatorNew;
  if (names_operator(name, "operator delete")) return CxxAllocationFunction::kOperatorDelete;
  return CxxAllocationFunction::kNeither;
}

TALLY_COLD CxxAllocationFunction cxx_allocation_function_at(uintptr_t pc) {
  {
    LockGuard guard(g_cache_lock);
    for (const CachedAnswer& cached : g_cache)
      if (cached.pc == pc && pc != 0) return cached.answer;
  }
  // The symbolizer takes its own lock and may allocate: not under the cache's lock.
  SymbolizedFrame frames[4];
  int count = symbolize(pc, frames, 4);
  CxxAllocationFunction answer = CxxAllocationFunction::kNeither;
  // Any function of the inlining chain: an operator new inlined into its caller still
  // made the call to malloc.
  for (int i = 0; i < count && answer == CxxAllocationFunction::kNeither; ++i)
    answer = cxx_allocation_function_named(frames[i].function);
  LockGuard guard(g_cache_lock);
  g_cache[g_cache_next] = CachedAnswer{pc, answer};
  g_cache_next = (g_cache_next + 1) % kCachedAnswers;
  return answer;
}

}  // namespace tally
