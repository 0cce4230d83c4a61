// How to step from a frame to its caller in code built without frame pointers: the rule
// for a return address, read from the call-frame information (`.eh_frame`) that every
// x86-64 module carries for exception handling, and kept in a lock-free cache so that a
// hot call site costs one load after its first capture.
//
// Only what a walk of return addresses needs is kept: where the canonical frame address
// (CFA, the caller's stack pointer) is, and where the caller's frame pointer (rbp) was
// saved. The return address itself is at CFA - 8 on x86-64. Rules the walker cannot
// follow (register-based saves, general DWARF expressions, signal frames) come back as
// kUnknown, and the walker falls back to the frame-pointer chain or stops.
//
// Safe inside malloc and in signal handlers: no allocation, no lock. A cache miss finds
// the module with _dl_find_object (lock-free in glibc; before the loader has set up its
// tables it walks the loader's list, which is still single-threaded then) and parses the
// module's binary-search table of FDEs, its FDE and CIE.
//
// A module unloaded with dlclose leaves its rules in the cache; code mapped later at the
// same addresses may get a stale rule. The walker validates every read against the
// thread's stack bounds, so a stale rule can end a walk early or add a wrong frame, never
// fault.
#pragma once

#include <stdint.h>

#include <atomic>

namespace tally {

// A rule, packed into one word (the form the cache keeps, so a hit needs no unpacking):
// kind in bits 0-1, base 2-3, saved 4-5, CFA offset (int16) 6-21, saved offset / 8 (int8)
// 22-29.
class UnwindRule {
 public:
  enum Kind : uint8_t {
    kUnknown = 0,    // no usable rule: fall back to the frame-pointer chain
    kFrame = 1,      // a normal frame: the fields below say how to find the caller
    kOutermost = 2,  // the return address is undefined here: the stack ends (thread start)
  };
  enum Base : uint8_t {
    kStackPointer = 0,       // CFA = rsp + cfa_offset
    kFramePointer = 1,       // CFA = rbp + cfa_offset
    kDerefFramePointer = 2,  // CFA = *(rbp + cfa_offset) (frames that realign the stack)
  };
  enum Saved : uint8_t {
    kUnchanged = 0,       // the caller's rbp is this frame's rbp
    kAtCfa = 1,           // saved at CFA + saved_offset
    kAtFramePointer = 2,  // saved at rbp + saved_offset
  };
  static constexpr unsigned kBits = 30;

  UnwindRule() = default;
  explicit UnwindRule(uint64_t bits) : bits_(bits & ((uint64_t{1} << kBits) - 1)) {}
  // False (and the rule stays unknown) when an offset does not fit the packed fields.
  bool set_frame(Base base, int64_t cfa_offset, Saved saved, int64_t saved_offset) {
    if (cfa_offset < INT16_MIN || cfa_offset > INT16_MAX || (saved_offset & 7) ||
        saved_offset / 8 < INT8_MIN || saved_offset / 8 > INT8_MAX)
      return false;
    bits_ = uint64_t{kFrame} | uint64_t{base} << 2 | uint64_t{saved} << 4 |
            uint64_t{static_cast<uint16_t>(cfa_offset)} << 6 |
            uint64_t{static_cast<uint8_t>(saved_offset / 8)} << 22;
    return true;
  }
  void set_outermost() { bits_ = kOutermost; }

  Kind kind() const { return static_cast<Kind>(bits_ & 3); }
  Base base() const { return static_cast<Base>((bits_ >> 2) & 3); }
  Saved saved() const { return static_cast<Saved>((bits_ >> 4) & 3); }
  int64_t cfa_offset() const { return static_cast<int16_t>((bits_ >> 6) & 0xffff); }
  int64_t saved_offset() const { return int64_t{static_cast<int8_t>((bits_ >> 22) & 0xff)} * 8; }
  uint64_t bits() const { return bits_; }

 private:
  uint64_t bits_ = 0;
};

namespace unwind_cache {
// Two-way: an address's rule sits in its home entry (index_of) or, moved aside by a newer
// rule with the same home, in the home's neighbour (index ^ 1), marked displaced. Each
// entry is one word: the rule, the displaced bit, and the address's bits above the index
// (tag). A direct-mapped table made two hot return addresses with one home evict each
// other on every walk, one parse each (one stack in fifty of 25 frames has such a pair).
// An empty entry (0) has tag 0, which no cacheable address has.
constexpr unsigned kIndexBits = 14;
constexpr size_t kEntries = size_t{1} << kIndexBits;
constexpr uint64_t kDisplaced = uint64_t{1} << UnwindRule::kBits;
constexpr unsigned kTagShift = UnwindRule::kBits + 1;
constexpr uintptr_t kCacheableLimit = uintptr_t{1} << (kIndexBits + 64 - kTagShift);
extern std::atomic<uint64_t>* g_table;  // null until the first miss maps it

inline size_t index_of(uintptr_t address) {
  return (address ^ (address >> kIndexBits)) & (kEntries - 1);
}
// Whether `address` may be cached: its tag fits and is not the empty entry's.
inline bool cacheable(uintptr_t address) {
  return address >= kEntries && address < kCacheableLimit;
}
// An entry's bits above the rule: the tag, then the displaced bit.
inline uint64_t key_of(uintptr_t address, bool displaced) {
  return (uint64_t{address >> kIndexBits} << 1) | (displaced ? 1 : 0);
}
}  // namespace unwind_cache

UnwindRule unwind_rule_miss(uintptr_t return_address);

// The rule at `return_address` (looked up one byte back, inside the call instruction).
inline UnwindRule unwind_rule_for(uintptr_t return_address) {
  using namespace unwind_cache;
  std::atomic<uint64_t>* table = g_table;
  if (__builtin_expect(table != nullptr && cacheable(return_address), 1)) {
    size_t home = index_of(return_address);
    uint64_t entry = table[home].load(std::memory_order_relaxed);
    if (__builtin_expect((entry >> UnwindRule::kBits) == key_of(return_address, false), 1))
      return UnwindRule(entry);
    entry = table[home ^ 1].load(std::memory_order_relaxed);
    if ((entry >> UnwindRule::kBits) == key_of(return_address, true)) return UnwindRule(entry);
  }
  return unwind_rule_miss(return_address);
}

// Parses the rule without the cache (tests; and what the cache stores on a miss).
UnwindRule unwind_rule_parse(uintptr_t return_address);

// Cache effectiveness, for tests and statistics.
struct UnwindTableStats {
  uint64_t parsed;  // rules parsed from unwind tables (cache misses)
};
UnwindTableStats unwind_table_stats();

}  // namespace tally
