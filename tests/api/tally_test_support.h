// Shared helpers for the out-of-process tests (tests/api and tests/stress).
//
// The test programs are ordinary executables. They either run with LD_PRELOAD=libtally.so
// (default build) or are linked statically against libtally.a (TALLY_TEST_STATIC_LINK=1).
// Before any test runs, the global environment defined in tally_test_support.cc checks that
// tally really is the process's malloc, so the tests cannot silently pass against glibc.
//
// TALLY_TEST_ALLOW_FOREIGN_ALLOCATOR=1 (environment) disables that check. It exists ONLY
// for developing the tests themselves against another allocator (glibc, jemalloc); tally's
// own test runs never set it. Tally-specific checks (tally_get_stats, ...) are skipped when
// tally's symbols are not present.
#ifndef TALLY_TEST_SUPPORT_H
#define TALLY_TEST_SUPPORT_H

#include <cstddef>
#include <cstdint>

#include "tally.h"

namespace tally_test {

// tally's prefixed API, resolved at run time with dlsym (preload builds) or bound directly
// (static builds). Every member is null when tally is not in the process.
struct TallyApi {
  decltype(&tally_malloc) malloc = nullptr;
  decltype(&tally_free) free = nullptr;
  decltype(&tally_calloc) calloc = nullptr;
  decltype(&tally_realloc) realloc = nullptr;
  decltype(&tally_reallocarray) reallocarray = nullptr;
  decltype(&tally_posix_memalign) posix_memalign = nullptr;
  decltype(&tally_aligned_alloc) aligned_alloc = nullptr;
  decltype(&tally_memalign) memalign = nullptr;
  decltype(&tally_valloc) valloc = nullptr;
  decltype(&tally_pvalloc) pvalloc = nullptr;
  decltype(&tally_malloc_usable_size) malloc_usable_size = nullptr;
  decltype(&tally_get_stats) get_stats = nullptr;
  decltype(&tally_print_stats) print_stats = nullptr;
  decltype(&tally_trim) trim = nullptr;
  decltype(&tally_mode) mode = nullptr;
};

const TallyApi& Tally();
// True when tally runs a checked mode (safe, debug): blocks then have their requested
// size as usable size, realloc always moves, and freed blocks wait in quarantine.
bool CheckedMode();
// True when tally's prefixed API (all of it) was found in the process.
bool TallyPresent();
// True when TALLY_TEST_ALLOW_FOREIGN_ALLOCATOR=1 (test development only).
bool ForeignAllocatorAllowed();
// tally_get_stats, or a zeroed struct if tally is absent (callers check TallyPresent()).
tally_stats Stats();

size_t PageSize();
size_t ResidentBytes();  // RSS from /proc/self/statm
size_t VirtualBytes();   // VmSize from /proc/self/statm

inline bool IsAligned(const void* pointer, size_t alignment) {
  return (reinterpret_cast<uintptr_t>(pointer) & (alignment - 1)) == 0;
}

// The alignment malloc and operator new promise for a block of `size` bytes: room for any
// object with a fundamental alignment that fits in it (C17 7.22.3, C++17
// [new.delete.single]), so 16 on x86-64 once the size is 16 or more, and the largest
// power of two not above a smaller size. glibc gives 16 to every block; tally does too,
// except to a small block it places before a guard page (one in sample_rate in safe mode,
// every one in debug mode), which ends as close to the guard as this allows.
constexpr size_t kMallocAlignment = 16;
inline size_t FundamentalAlignment(size_t size) {
  if (size == 0 || size >= kMallocAlignment) return kMallocAlignment;
  size_t alignment = 1;
  while (alignment * 2 <= size) alignment *= 2;
  return alignment;
}

// The alignment the tests require of a block of `size` bytes from malloc and its kin. Only
// the checked modes (safe, debug) place small blocks before guard pages, aligned as
// FundamentalAlignment allows; in fast mode (and under glibc) every block is 16-byte
// aligned, and the tests hold it to that.
inline size_t ExpectedAlignment(size_t size) {
  return CheckedMode() ? FundamentalAlignment(size) : kMallocAlignment;
}

// Keeps the compiler from reasoning about (and eliding) an allocation.
inline void Escape(const void* pointer) {
  asm volatile("" : : "g"(pointer) : "memory");
}

// A byte pattern that depends on the block's address, its size and the byte's position, so
// a block that overlaps another live block, or was moved without its contents, is caught.
// Blocks larger than kDenseLimit get a dense head and tail and one word per page between.
constexpr size_t kDenseLimit = 8192;
void FillPattern(void* block, size_t size, uint64_t salt = 0);
bool CheckPattern(const void* block, size_t size, uint64_t salt = 0);
// After realloc moved a block that had `original_size` (<= kDenseLimit) bytes at
// `original`: checks that its first `prefix` bytes still carry FillPattern's pattern.
bool CheckMovedPattern(const void* block, size_t prefix, const void* original, size_t original_size,
                       uint64_t salt = 0);
// Position-only pattern (independent of the address): survives realloc moving the block.
void FillPositional(void* block, size_t begin, size_t end, uint64_t salt = 0);
// Returns the first mismatching offset in [begin, end), or end if all match.
size_t CheckPositional(const void* block, size_t begin, size_t end, uint64_t salt = 0);

// Small fast PRNG (xorshift64*), deterministic per seed, async-signal/fork safe.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    if (state_ == 0) state_ = 1;
  }
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [low, high].
  size_t Range(size_t low, size_t high) { return low + Next() % (high - low + 1); }
  bool Percent(unsigned percent) { return Next() % 100 < percent; }

 private:
  uint64_t state_;
};

}  // namespace tally_test

// Skips the current test when tally's own API is not in the process (foreign allocator).
#define TALLY_SKIP_IF_NOT_TALLY()                                                     \
  do {                                                                                \
    if (!::tally_test::TallyPresent())                                                \
      GTEST_SKIP() << "tally is not the allocator of this process (test development " \
                      "mode): tally-specific check skipped";                          \
  } while (0)

#endif  // TALLY_TEST_SUPPORT_H
