// Return values and errno on every error path, and the C library's edge cases (NULL, zero
// sizes, usable sizes). Expectations follow glibc (the C library tally replaces) unless noted.
//
// The impossible sizes go through tables and variables, so GCC's -Walloc-size-larger-than
// does not see constants here (unlike api_cpp.cc).
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::Escape;
using tally_test::IsAligned;

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kPtrdiffMax = static_cast<size_t>(PTRDIFF_MAX);

// Sizes no allocator can satisfy.
const size_t kImpossibleSizes[] = {
    SIZE_MAX,    SIZE_MAX - 1, SIZE_MAX - 4096, SIZE_MAX - (1u << 20), kPtrdiffMax + 1,
    kPtrdiffMax, SIZE_MAX / 2, size_t{1} << 62, size_t{1} << 48,       size_t{1} << 47,
};

TEST(ApiErrors, MallocOfImpossibleSizeIsNullWithEnomem) {
  for (size_t size : kImpossibleSizes) {
    errno = 0;
    void* block = malloc(size);
    EXPECT_EQ(block, nullptr) << "malloc(" << size << ")";
    EXPECT_EQ(errno, ENOMEM) << "malloc(" << size << ")";
    free(block);
  }
  // The allocator still works afterwards.
  void* block = malloc(100);
  ASSERT_NE(block, nullptr);
  free(block);
}

// The kernel's total of RAM and swap, from /proc/meminfo; 0 if unknown.
size_t RamAndSwapBytes() {
  FILE* meminfo = fopen("/proc/meminfo", "r");
  if (!meminfo) return 0;
  char line[256];
  size_t total_kib = 0;
  while (fgets(line, sizeof line, meminfo)) {
    unsigned long long kib = 0;
    if (sscanf(line, "MemTotal: %llu kB", &kib) == 1 ||
        sscanf(line, "SwapTotal: %llu kB", &kib) == 1)
      total_kib += kib;
  }
  fclose(meminfo);
  return total_kib * 1024;
}

// A request the kernel's overcommit heuristic refuses (one bigger than RAM and swap
// together) fails at the call, as glibc's does: tally's large blocks are charged to the
// commit limit. They used to be mapped MAP_NORESERVE, which the heuristic lets through: a
// program that tries a big buffer and falls back to a smaller one got the big one, and the
// OOM killer when it filled it.
TEST(ApiErrors, RequestBeyondWhatTheKernelWouldCommitIsNullWithEnomem) {
  FILE* policy_file = fopen("/proc/sys/vm/overcommit_memory", "r");
  int policy = -1;
  if (policy_file) {
    if (fscanf(policy_file, "%d", &policy) != 1) policy = -1;
    fclose(policy_file);
  }
  if (policy != 0)
    GTEST_SKIP() << "vm.overcommit_memory is " << policy
                 << ", not the heuristic mode (0) under which the kernel refuses such a request";
  size_t ram_and_swap = RamAndSwapBytes();
  ASSERT_GT(ram_and_swap, 0u);
  // Below the sizes tally refuses by itself (kImpossibleSizes), so the kernel decides.
  volatile size_t too_big = ram_and_swap + ram_and_swap / 2;
  ASSERT_LT(too_big, size_t{1} << 46) << "a machine this big cannot show the refusal";

  errno = 0;
  EXPECT_EQ(malloc(too_big), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(calloc(1, too_big), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* aligned = reinterpret_cast<void*>(1);
  EXPECT_EQ(posix_memalign(&aligned, size_t{1} << 21, too_big), ENOMEM);
  EXPECT_EQ(aligned, reinterpret_cast<void*>(1)) << "posix_memalign must leave the result alone";
  // An alignment as big as the request makes the same demand.
  EXPECT_EQ(posix_memalign(&aligned, std::bit_floor(static_cast<size_t>(too_big)), 64), ENOMEM);

  // Growing a block that far fails and leaves the block as it was.
  char* block = static_cast<char*>(malloc(3 * kMiB));
  ASSERT_NE(block, nullptr);
  memset(block, 0x5a, 3 * kMiB);
  errno = 0;
  EXPECT_EQ(realloc(block, too_big), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(block[0], 0x5a);
  EXPECT_EQ(block[3 * kMiB - 1], 0x5a);
  free(block);

  // What the kernel grants is still granted: a block of a fortieth of RAM and swap.
  void* fits = malloc(ram_and_swap / 40);
  EXPECT_NE(fits, nullptr);
  free(fits);
}

TEST(ApiErrors, CallocOverflowIsNullWithEnomem) {
  const std::pair<size_t, size_t> cases[] = {
      {SIZE_MAX / 2, 3},    {3, SIZE_MAX / 2},
      {SIZE_MAX, SIZE_MAX}, {size_t{1} << 32, size_t{1} << 32},
      {SIZE_MAX, 2},        {2, SIZE_MAX},
      {1, SIZE_MAX},        {SIZE_MAX, 1},
      {kPtrdiffMax + 1, 1}, {(kPtrdiffMax + 1) / 16, 16},
  };
  for (auto [count, size] : cases) {
    errno = 0;
    void* block = calloc(count, size);
    EXPECT_EQ(block, nullptr) << "calloc(" << count << ", " << size << ")";
    EXPECT_EQ(errno, ENOMEM) << "calloc(" << count << ", " << size << ")";
    free(block);
  }
}

bool AllZero(const void* block, size_t size) {
  const unsigned char* bytes = static_cast<const unsigned char*>(block);
  return std::all_of(bytes, bytes + size, [](unsigned char b) { return b == 0; });
}

TEST(ApiErrors, CallocZeroesReusedDirtyBlocks) {
  // Dirty blocks are freed and then recycled by calloc: calloc must still zero them.
  const size_t sizes[] = {1,    8,     16,    24,     32,     48,   64,          100,
                          128,  200,   256,   500,    1000,   1024, 2000,        4096,
                          5000, 10000, 32768, 100000, 200000, kMiB, 4 * kMiB + 7};
  for (size_t size : sizes) {
    const int blocks = size > 100000 ? 4 : 32;
    const int rounds = size > 100000 ? 5 : 40;
    for (int round = 0; round < rounds; ++round) {
      std::vector<void*> dirty;
      for (int i = 0; i < blocks; ++i) {
        void* block = malloc(size);
        ASSERT_NE(block, nullptr);
        memset(block, 0xAB, malloc_usable_size(block));
        dirty.push_back(block);
      }
      // Free in alternating orders so different recycling paths are taken.
      if (round % 2) std::reverse(dirty.begin(), dirty.end());
      for (void* block : dirty) free(block);
      std::vector<void*> clean;
      for (int i = 0; i < blocks; ++i) {
        void* block = (i % 2) ? calloc(1, size) : calloc(size, 1);
        ASSERT_NE(block, nullptr);
        ASSERT_TRUE(AllZero(block, size))
            << "calloc(" << size << ") returned dirty memory, round " << round << ", block " << i;
        clean.push_back(block);
      }
      for (void* block : clean) free(block);
    }
  }
}

TEST(ApiErrors, ReallocOfImpossibleSizeLeavesBlockIntact) {
  for (size_t original : {size_t{100}, size_t{5000}, 2 * kMiB}) {
    void* block = malloc(original);
    ASSERT_NE(block, nullptr);
    const size_t usable = malloc_usable_size(block);
    tally_test::FillPositional(block, 0, usable, 1);
    for (size_t size : {SIZE_MAX, kPtrdiffMax + 1, SIZE_MAX - 4096, size_t{1} << 47}) {
      errno = 0;
      void* moved = realloc(block, size);
      EXPECT_EQ(moved, nullptr) << "realloc(p, " << size << ")";
      EXPECT_EQ(errno, ENOMEM) << "realloc(p, " << size << ")";
      if (moved != nullptr) {
        block = moved;  // should not happen; keep the test memory-safe
        continue;
      }
      EXPECT_EQ(malloc_usable_size(block), usable);
      EXPECT_EQ(tally_test::CheckPositional(block, 0, usable, 1), usable)
          << "failed realloc damaged the block";
    }
    // The block is still a normal block: it grows and is freed.
    void* grown = realloc(block, original * 2);
    ASSERT_NE(grown, nullptr);
    EXPECT_EQ(tally_test::CheckPositional(grown, 0, usable, 1), usable);
    free(grown);
  }
}

TEST(ApiErrors, PosixMemalignInvalidAlignmentIsEinvalAndResultUntouched) {
  const size_t invalid[] = {0,
                            1,
                            2,
                            4,
                            3,
                            12,
                            24,
                            40,
                            48,
                            96,
                            17,
                            100,
                            4097,
                            6144,
                            SIZE_MAX,
                            SIZE_MAX / 2 + 9,
                            (SIZE_MAX / 2 + 1) + 8,
                            3 * sizeof(void*)};
  for (size_t alignment : invalid) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{100}, SIZE_MAX}) {
      void* const sentinel = reinterpret_cast<void*>(uintptr_t{0x5EA1});
      void* result = sentinel;
      int status = posix_memalign(&result, alignment, size);
      EXPECT_EQ(status, EINVAL) << "posix_memalign(" << alignment << ", " << size << ")";
      EXPECT_EQ(result, sentinel) << "posix_memalign(" << alignment << ", " << size
                                  << ") wrote its result on failure";
      if (status == 0) free(result);
    }
  }
}

TEST(ApiErrors, PosixMemalignImpossibleSizeIsEnomem) {
  for (size_t alignment : {size_t{8}, size_t{16}, size_t{64}, size_t{4096}, kMiB}) {
    for (size_t size : {SIZE_MAX, SIZE_MAX - alignment, kPtrdiffMax + 1, size_t{1} << 47}) {
      void* result = nullptr;
      int status = posix_memalign(&result, alignment, size);
      EXPECT_EQ(status, ENOMEM) << "posix_memalign(" << alignment << ", " << size << ")";
      if (status == 0) free(result);
    }
  }
}

// aligned_alloc rejects alignments that are not powers of two with EINVAL. This is C17
// (DR 460) and glibc >= 2.38 behaviour, the one tally implements. Note: Debian 12's glibc
// 2.36 still aliases aligned_alloc to memalign and rounds such alignments up.
TEST(ApiErrors, AlignedAllocNonPowerOfTwoIsEinval) {
  for (size_t alignment : {size_t{0}, size_t{3}, size_t{24}, size_t{12}, size_t{48}, size_t{100},
                           size_t{4097}, size_t{3} << 20, SIZE_MAX}) {
    errno = 0;
    void* block = aligned_alloc(alignment, 48);
    EXPECT_EQ(block, nullptr) << "aligned_alloc(" << alignment << ", 48)";
    EXPECT_EQ(errno, EINVAL) << "aligned_alloc(" << alignment << ", 48)";
    free(block);
  }
}

TEST(ApiErrors, AlignedAllocImpossibleSizeIsEnomem) {
  for (size_t alignment : {size_t{1}, size_t{16}, size_t{64}, size_t{4096}, kMiB}) {
    for (size_t size : {SIZE_MAX, SIZE_MAX - alignment + 1, kPtrdiffMax + 1}) {
      errno = 0;
      void* block = aligned_alloc(alignment, size);
      EXPECT_EQ(block, nullptr) << "aligned_alloc(" << alignment << ", " << size << ")";
      EXPECT_EQ(errno, ENOMEM) << "aligned_alloc(" << alignment << ", " << size << ")";
      free(block);
    }
  }
}

size_t NextPowerOfTwo(size_t value) {
  size_t power = 1;
  while (power < value) power *= 2;
  return power;
}

// glibc's memalign rounds an alignment that is not a power of two up to the next one.
TEST(ApiErrors, MemalignRoundsNonPowerOfTwoAlignmentUp) {
  for (size_t alignment : {size_t{3}, size_t{5}, size_t{12}, size_t{24}, size_t{48}, size_t{96},
                           size_t{100}, size_t{1000}, size_t{3000}, size_t{5000}, size_t{65537},
                           size_t{100000}, size_t{1000000}, size_t{3} << 20}) {
    for (size_t size : {size_t{0}, size_t{1}, alignment, size_t{10000}}) {
      errno = 0;
      void* block = memalign(alignment, size);
      ASSERT_NE(block, nullptr) << "memalign(" << alignment << ", " << size << ")";
      EXPECT_TRUE(IsAligned(block, NextPowerOfTwo(alignment)))
          << "memalign(" << alignment << ", " << size << ") = " << block;
      EXPECT_GE(malloc_usable_size(block), size);
      memset(block, 0x5A, malloc_usable_size(block));
      free(block);
    }
  }
  // Alignment 0 behaves like the minimum alignment.
  volatile size_t zero = 0;  // (a literal 0 draws clang's -Wnon-power-of-two-alignment)
  void* block = memalign(zero, 100);
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(IsAligned(block, 16));
  free(block);
}

TEST(ApiErrors, MemalignImpossibleRequests) {
  // An alignment above the largest power of two that fits: EINVAL (glibc).
  for (size_t alignment : {SIZE_MAX / 2 + 2, SIZE_MAX - 1, SIZE_MAX}) {
    errno = 0;
    void* block = memalign(alignment, 1);
    EXPECT_EQ(block, nullptr) << "memalign(" << alignment << ", 1)";
    EXPECT_EQ(errno, EINVAL) << "memalign(" << alignment << ", 1)";
    free(block);
  }
  // A satisfiable alignment with an impossible size, or an impossible power-of-two
  // alignment: ENOMEM.
  const std::pair<size_t, size_t> cases[] = {
      {16, SIZE_MAX}, {4096, SIZE_MAX - 4096}, {64, kPtrdiffMax + 1}, {SIZE_MAX / 2 + 1, 1}};
  for (auto [alignment, size] : cases) {
    errno = 0;
    void* block = memalign(alignment, size);
    EXPECT_EQ(block, nullptr) << "memalign(" << alignment << ", " << size << ")";
    EXPECT_EQ(errno, ENOMEM) << "memalign(" << alignment << ", " << size << ")";
    free(block);
  }
}

TEST(ApiPageAlignment, VallocAndPvallocImpossibleSizesAreEnomem) {
  for (size_t size : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4095, kPtrdiffMax + 1}) {
    errno = 0;
    void* block = valloc(size);
    EXPECT_EQ(block, nullptr) << "valloc(" << size << ")";
    EXPECT_EQ(errno, ENOMEM) << "valloc(" << size << ")";
    free(block);
    errno = 0;
    block = pvalloc(size);  // the round-up to pages overflows for most of these
    EXPECT_EQ(block, nullptr) << "pvalloc(" << size << ")";
    EXPECT_EQ(errno, ENOMEM) << "pvalloc(" << size << ")";
    free(block);
  }
}

TEST(ApiErrors, FreeOfNullIsANoOp) {
  for (int i = 0; i < 1000; ++i) free(nullptr);
  void* block = malloc(10);
  ASSERT_NE(block, nullptr);
  free(nullptr);
  free(block);
}

// POSIX.1-2024 (and glibc since 2.33): free preserves errno.
TEST(ApiErrors, FreePreservesErrno) {
  for (size_t size : {size_t{0}, size_t{16}, size_t{1000}, size_t{100000}, 8 * kMiB}) {
    void* block = malloc(size);
    ASSERT_NE(block, nullptr);
    errno = ERANGE;
    free(block);
    EXPECT_EQ(errno, ERANGE) << "free of a " << size << "-byte block changed errno";
  }
  errno = EDOM;
  free(nullptr);
  EXPECT_EQ(errno, EDOM);
}

TEST(ApiErrors, ZeroSizeRequestsReturnUniqueFreeableBlocks) {
  std::set<void*> seen;
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) {
    void* from_malloc = malloc(0);
    void* from_calloc_count = calloc(0, 16);
    void* from_calloc_size = calloc(16, 0);
    void* from_realloc = realloc(nullptr, 0);
    for (void* block : {from_malloc, from_calloc_count, from_calloc_size, from_realloc}) {
      ASSERT_NE(block, nullptr);
      EXPECT_TRUE(IsAligned(block, 16));
      EXPECT_TRUE(seen.insert(block).second) << "zero-size block " << block << " returned twice";
      // Whatever is usable is writable.
      memset(block, 0xCD, malloc_usable_size(block));
      blocks.push_back(block);
    }
  }
  for (void* block : blocks) free(block);
}

TEST(ApiErrors, ReallocOfNullIsMalloc) {
  for (size_t size : {size_t{1}, size_t{24}, size_t{1000}, size_t{70000}, 3 * kMiB}) {
    void* block = realloc(nullptr, size);
    ASSERT_NE(block, nullptr) << "realloc(NULL, " << size << ")";
    // As malloc's: a guarded 1-byte block (every block is, with sample_rate=1) ends at its
    // guard page, aligned to 1.
    EXPECT_TRUE(IsAligned(block, tally_test::ExpectedAlignment(size))) << size;
    EXPECT_GE(malloc_usable_size(block), size);
    tally_test::FillPattern(block, size);
    EXPECT_TRUE(tally_test::CheckPattern(block, size));
    free(block);
  }
}

// glibc: realloc(p, 0) with p != NULL frees p and returns NULL (it does not allocate a
// zero-size block). tally matches.
TEST(ApiErrors, ReallocToZeroFreesAndReturnsNull) {
  for (size_t size : {size_t{1}, size_t{100}, size_t{4096}, size_t{100000}, 4 * kMiB}) {
    void* block = malloc(size);
    ASSERT_NE(block, nullptr);
    memset(block, 1, size);
    const size_t usable = malloc_usable_size(block);
    const tally_stats before = tally_test::Stats();
    void* result = realloc(block, 0);
    const tally_stats after = tally_test::Stats();
    EXPECT_EQ(result, nullptr) << "realloc(p, 0) for a " << size << "-byte block";
    if (result != nullptr) {
      free(result);
      continue;
    }
    if (tally_test::TallyPresent()) {
      EXPECT_LE(after.bytes_live + usable, before.bytes_live)
          << "realloc(p, 0) did not free the " << size << "-byte block";
    }
  }
}

TEST(ApiErrors, UsableSizeOfNullIsZero) {
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
}

TEST(ApiErrors, UsableSizeCoversRequestAndIsStable) {
  std::vector<std::pair<void*, size_t>> blocks;
  std::vector<size_t> usable;
  tally_test::Rng rng(42);
  for (int i = 0; i < 4000; ++i) {
    size_t size =
        i < 3000 ? rng.Range(0, 4096)
                 : (i % 50 == 0 ? rng.Range(256 * 1024, 2 * kMiB) : rng.Range(4097, 256 * 1024));
    void* block = malloc(size);
    ASSERT_NE(block, nullptr);
    size_t u = malloc_usable_size(block);
    EXPECT_GE(u, size);
    memset(block, 0xEE, u);
    blocks.emplace_back(block, size);
    usable.push_back(u);
  }
  // Churn other blocks; the usable sizes of the live ones do not move.
  for (int i = 0; i < 20000; ++i) {
    void* other = malloc(rng.Range(0, 8192));
    ASSERT_NE(other, nullptr);
    Escape(other);
    free(other);
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(malloc_usable_size(blocks[i].first), usable[i]) << "block " << i;
    const unsigned char* bytes = static_cast<const unsigned char*>(blocks[i].first);
    EXPECT_TRUE(std::all_of(bytes, bytes + usable[i], [](unsigned char b) { return b == 0xEE; }))
        << "block " << i << " changed";
    free(blocks[i].first);
  }
}

// reallocarray (own suite: some allocators lack it and glibc's would misuse their blocks).
TEST(ApiReallocarray, OverflowIsNullWithEnomemAndBlockIntact) {
  const std::pair<size_t, size_t> overflowing[] = {{SIZE_MAX / 2, 3},
                                                   {3, SIZE_MAX / 2},
                                                   {SIZE_MAX, SIZE_MAX},
                                                   {size_t{1} << 32, size_t{1} << 32}};
  for (auto [count, size] : overflowing) {
    errno = 0;
    void* fresh = reallocarray(nullptr, count, size);
    EXPECT_EQ(fresh, nullptr);
    EXPECT_EQ(errno, ENOMEM);
    free(fresh);

    void* block = malloc(300);
    ASSERT_NE(block, nullptr);
    tally_test::FillPositional(block, 0, 300, 9);
    errno = 0;
    void* moved = reallocarray(block, count, size);
    EXPECT_EQ(moved, nullptr) << "reallocarray(p, " << count << ", " << size << ")";
    EXPECT_EQ(errno, ENOMEM);
    if (moved != nullptr) block = moved;
    EXPECT_EQ(tally_test::CheckPositional(block, 0, 300, 9), 300u);
    free(block);
  }
}

TEST(ApiReallocarray, BehavesLikeRealloc) {
  int* numbers = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
  ASSERT_NE(numbers, nullptr);
  for (int i = 0; i < 10; ++i) numbers[i] = i * 7;
  for (size_t count : {size_t{1000}, size_t{100000}, size_t{3}, size_t{500000}}) {
    int* moved = static_cast<int*>(reallocarray(numbers, count, sizeof(int)));
    ASSERT_NE(moved, nullptr);
    numbers = moved;
    for (int i = 0; i < 3; ++i) ASSERT_EQ(numbers[i], i * 7);
    EXPECT_GE(malloc_usable_size(numbers), count * sizeof(int));
  }
  free(numbers);
}

}  // namespace
