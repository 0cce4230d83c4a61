// Alignment of every allocation API, and every block writable over its full usable size.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>

#include <cstring>
#include <new>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::Escape;
using tally_test::ExpectedAlignment;
using tally_test::IsAligned;

constexpr size_t kMiB = size_t{1} << 20;

// Sizes past 4096 up to 64 MiB: powers of two, their neighbours, and a geometric sweep.
std::vector<size_t> SampledLargeSizes() {
  std::vector<size_t> sizes;
  for (size_t power = 4096 * 2; power <= 64 * kMiB; power *= 2) {
    sizes.push_back(power - 1);
    sizes.push_back(power);
    sizes.push_back(power + 1);
    sizes.push_back(power + power / 2 + 8);
  }
  for (size_t size = 4097; size <= 64 * kMiB; size = size * 3 / 2 + 13) sizes.push_back(size);
  return sizes;
}

// Every block must be writable over its whole usable size (not just the request).
void WriteUsable(void* block, size_t requested) {
  size_t usable = malloc_usable_size(block);
  ASSERT_GE(usable, requested) << "usable size below the request";
  memset(block, 0xA5, usable);
  Escape(block);
}

// The alignments to test: every power of two from `lowest` to 4 MiB.
std::vector<size_t> PowerOfTwoAlignments(size_t lowest) {
  std::vector<size_t> alignments;
  for (size_t alignment = lowest; alignment <= 4 * kMiB; alignment *= 2) {
    alignments.push_back(alignment);
  }
  return alignments;
}

std::vector<size_t> SizesForAlignment(size_t alignment) {
  return {0, 1, alignment - 1, alignment, alignment + 1, 3 * alignment, 100000};
}

TEST(ApiAlignment, MallocSmallSizesAllSixteenByteAligned) {
  std::vector<void*> live;
  for (size_t size = 0; size <= 4096; ++size) {
    void* block = malloc(size);
    ASSERT_NE(block, nullptr) << "malloc(" << size << ")";
    EXPECT_TRUE(IsAligned(block, ExpectedAlignment(size))) << "malloc(" << size << ") = " << block;
    WriteUsable(block, size);
    live.push_back(block);
  }
  for (void* block : live) free(block);
}

TEST(ApiAlignment, MallocSampledLargeSizesAligned) {
  for (size_t size : SampledLargeSizes()) {
    void* block = malloc(size);
    ASSERT_NE(block, nullptr) << "malloc(" << size << ")";
    EXPECT_TRUE(IsAligned(block, ExpectedAlignment(size))) << "malloc(" << size << ") = " << block;
    WriteUsable(block, size);
    free(block);
  }
}

TEST(ApiAlignment, CallocAlignedAndZeroed) {
  std::vector<void*> live;
  std::vector<size_t> sizes;
  for (size_t size = 0; size <= 4096; ++size) sizes.push_back(size);
  for (size_t size : SampledLargeSizes()) sizes.push_back(size);
  for (size_t size : sizes) {
    // Alternate the split between count and element size.
    void* block = (size % 2 == 0 && size > 0) ? calloc(size / 2, 2) : calloc(1, size);
    ASSERT_NE(block, nullptr) << "calloc for " << size << " bytes";
    EXPECT_TRUE(IsAligned(block, ExpectedAlignment(size))) << "calloc(" << size << ") = " << block;
    const unsigned char* bytes = static_cast<const unsigned char*>(block);
    size_t nonzero = 0;
    for (size_t i = 0; i < size; ++i) nonzero += bytes[i] != 0;
    EXPECT_EQ(nonzero, 0u) << "calloc(" << size << ") not zeroed";
    WriteUsable(block, size);
    if (size <= 4096) {
      live.push_back(block);
    } else {
      free(block);
    }
  }
  for (void* block : live) free(block);
}

TEST(ApiAlignment, ReallocResultsAligned) {
  // From NULL, and growing one block through every size.
  void* growing = nullptr;
  for (size_t size = 0; size <= 4096; ++size) {
    void* fresh = realloc(nullptr, size);
    ASSERT_NE(fresh, nullptr);
    EXPECT_TRUE(IsAligned(fresh, ExpectedAlignment(size))) << "realloc(NULL, " << size << ")";
    WriteUsable(fresh, size);
    free(fresh);
    if (size == 0) continue;  // realloc(p, 0) frees; tested in ApiErrors
    void* grown = realloc(growing, size);
    ASSERT_NE(grown, nullptr) << "realloc(p, " << size << ")";
    EXPECT_TRUE(IsAligned(grown, ExpectedAlignment(size)))
        << "realloc(p, " << size << ") = " << grown;
    growing = grown;
    WriteUsable(growing, size);
  }
  for (size_t size : SampledLargeSizes()) {
    void* grown = realloc(growing, size);
    ASSERT_NE(grown, nullptr) << "realloc(p, " << size << ")";
    EXPECT_TRUE(IsAligned(grown, ExpectedAlignment(size)))
        << "realloc(p, " << size << ") = " << grown;
    growing = grown;
    WriteUsable(growing, size);
  }
  // And shrinking back through the sizes.
  for (size_t size = 64 * kMiB; size >= 16; size = size / 3) {
    void* shrunk = realloc(growing, size);
    ASSERT_NE(shrunk, nullptr) << "realloc(p, " << size << ")";
    EXPECT_TRUE(IsAligned(shrunk, ExpectedAlignment(size)))
        << "realloc(p, " << size << ") = " << shrunk;
    growing = shrunk;
    WriteUsable(growing, size);
  }
  free(growing);
}

TEST(ApiAlignment, PosixMemalignEveryPowerOfTwo) {
  for (size_t alignment : PowerOfTwoAlignments(sizeof(void*))) {
    for (size_t size : SizesForAlignment(alignment)) {
      void* block = reinterpret_cast<void*>(0x1);
      int result = posix_memalign(&block, alignment, size);
      ASSERT_EQ(result, 0) << "posix_memalign(" << alignment << ", " << size << ")";
      ASSERT_NE(block, nullptr);
      EXPECT_TRUE(IsAligned(block, alignment))
          << "posix_memalign(" << alignment << ", " << size << ") = " << block;
      EXPECT_TRUE(IsAligned(block, ExpectedAlignment(size)));
      WriteUsable(block, size);
      free(block);
    }
  }
}

TEST(ApiAlignment, AlignedAllocEveryPowerOfTwo) {
  for (size_t alignment : PowerOfTwoAlignments(1)) {
    for (size_t size : SizesForAlignment(alignment)) {
      void* block = aligned_alloc(alignment, size);
      ASSERT_NE(block, nullptr) << "aligned_alloc(" << alignment << ", " << size << ")";
      EXPECT_TRUE(IsAligned(block, alignment))
          << "aligned_alloc(" << alignment << ", " << size << ") = " << block;
      EXPECT_TRUE(IsAligned(block, ExpectedAlignment(size)));
      WriteUsable(block, size);
      free(block);
    }
  }
}

TEST(ApiAlignment, MemalignEveryPowerOfTwo) {
  for (size_t alignment : PowerOfTwoAlignments(1)) {
    for (size_t size : SizesForAlignment(alignment)) {
      void* block = memalign(alignment, size);
      ASSERT_NE(block, nullptr) << "memalign(" << alignment << ", " << size << ")";
      EXPECT_TRUE(IsAligned(block, alignment))
          << "memalign(" << alignment << ", " << size << ") = " << block;
      EXPECT_TRUE(IsAligned(block, ExpectedAlignment(size)));
      WriteUsable(block, size);
      free(block);
    }
  }
}

TEST(ApiAlignment, AlignedBlocksCoexist) {
  // Many live aligned blocks of mixed alignment: none overlaps another.
  std::vector<std::pair<void*, size_t>> live;
  tally_test::Rng rng(7);
  for (int i = 0; i < 3000; ++i) {
    size_t alignment = size_t{1} << rng.Range(3, 16);
    size_t size = rng.Range(1, 3 * alignment);
    void* block = nullptr;
    ASSERT_EQ(posix_memalign(&block, alignment, size), 0);
    ASSERT_TRUE(IsAligned(block, alignment));
    tally_test::FillPattern(block, size);
    live.emplace_back(block, size);
  }
  for (auto [block, size] : live) {
    EXPECT_TRUE(tally_test::CheckPattern(block, size)) << "block " << block << " overwritten";
    free(block);
  }
}

TEST(ApiAlignment, OperatorNewDefaultAlignment) {
  static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ == 16);
  std::vector<size_t> sizes;
  for (size_t size = 0; size <= 4096; ++size) sizes.push_back(size);
  for (size_t size = 4097; size <= 16 * kMiB; size = size * 2 + 5) sizes.push_back(size);
  for (size_t size : sizes) {
    void* single = ::operator new(size);
    void* array = ::operator new[](size);
    // __STDCPP_DEFAULT_NEW_ALIGNMENT__ for every object that can need it: any that fits.
    EXPECT_TRUE(IsAligned(single, ExpectedAlignment(size))) << "new(" << size << ")";
    EXPECT_TRUE(IsAligned(array, ExpectedAlignment(size))) << "new[](" << size << ")";
    memset(single, 1, size);
    memset(array, 2, size);
    Escape(single);
    Escape(array);
    ::operator delete(single);
    ::operator delete[](array);
  }
}

TEST(ApiAlignment, OperatorNewAlignValEveryPowerOfTwo) {
  for (size_t alignment : PowerOfTwoAlignments(1)) {
    for (size_t size : {size_t{1}, alignment, alignment + 1, 3 * alignment, size_t{100000}}) {
      std::align_val_t align{alignment};
      void* single = ::operator new(size, align);
      void* array = ::operator new[](size, align);
      void* nothrow_single = ::operator new(size, align, std::nothrow);
      void* nothrow_array = ::operator new[](size, align, std::nothrow);
      ASSERT_NE(nothrow_single, nullptr);
      ASSERT_NE(nothrow_array, nullptr);
      for (void* block : {single, array, nothrow_single, nothrow_array}) {
        EXPECT_TRUE(IsAligned(block, alignment))
            << "aligned new(" << size << ", " << alignment << ") = " << block;
        memset(block, 3, size);
        Escape(block);
      }
      ::operator delete(single, align);
      ::operator delete[](array, align);
      ::operator delete(nothrow_single, align, std::nothrow);
      ::operator delete[](nothrow_array, align, std::nothrow);
    }
  }
}

struct alignas(64) CacheLine {
  unsigned char bytes[64];
};
struct alignas(4096) Page {
  unsigned char bytes[4096];
};
struct alignas(256) Odd {
  unsigned char bytes[300];
};

TEST(ApiAlignment, NewExpressionsOfOverAlignedTypes) {
  for (int count = 1; count < 40; count += 3) {
    CacheLine* lines = new CacheLine[count];
    Page* pages = new Page[count];
    Odd* odds = new Odd[count];
    Page* page = new Page;
    EXPECT_TRUE(IsAligned(lines, alignof(CacheLine)));
    EXPECT_TRUE(IsAligned(pages, alignof(Page)));
    EXPECT_TRUE(IsAligned(odds, alignof(Odd)));
    EXPECT_TRUE(IsAligned(page, alignof(Page)));
    memset(lines, 1, sizeof(CacheLine) * count);
    memset(pages, 2, sizeof(Page) * count);
    memset(odds, 3, sizeof(Odd) * count);
    memset(page, 4, sizeof(Page));
    Escape(lines);
    Escape(pages);
    Escape(odds);
    Escape(page);
    delete[] lines;
    delete[] pages;
    delete[] odds;
    delete page;
  }
  std::vector<Odd> vector(1000);
  EXPECT_TRUE(IsAligned(vector.data(), alignof(Odd)));
}

// valloc and pvalloc: page alignment (their own suite: some allocators lack pvalloc).
TEST(ApiPageAlignment, VallocPageAligned) {
  const size_t page = tally_test::PageSize();
  for (size_t size : {size_t{0}, size_t{1}, size_t{100}, page - 1, page, page + 1, size_t{100000},
                      kMiB + 1, 5 * kMiB}) {
    void* block = valloc(size);
    ASSERT_NE(block, nullptr) << "valloc(" << size << ")";
    EXPECT_TRUE(IsAligned(block, page)) << "valloc(" << size << ") = " << block;
    WriteUsable(block, size);
    free(block);
  }
}

TEST(ApiPageAlignment, PvallocPageAlignedAndPageMultiple) {
  const size_t page = tally_test::PageSize();
  for (size_t size : {size_t{0}, size_t{1}, size_t{100}, page - 1, page, page + 1, size_t{100000},
                      kMiB + 1, 5 * kMiB}) {
    void* block = pvalloc(size);
    ASSERT_NE(block, nullptr) << "pvalloc(" << size << ")";
    EXPECT_TRUE(IsAligned(block, page)) << "pvalloc(" << size << ") = " << block;
    size_t usable = malloc_usable_size(block);
    size_t rounded = (size + page - 1) / page * page;
    EXPECT_GE(usable, rounded) << "pvalloc(" << size << ") must round the size up to pages";
    EXPECT_EQ(usable % page, 0u) << "pvalloc(" << size << ") usable size " << usable;
    WriteUsable(block, rounded);
    free(block);
  }
}

}  // namespace
