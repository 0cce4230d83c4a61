// glibc's introspection functions (mallinfo2, malloc_trim, malloc_stats), tally's own
// prefixed API and statistics, and which object every allocation entry point comes from.
#include <dlfcn.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "tally_test_support.h"

// C23's sized frees, declared by glibc from 2.40 only. Weak: without tally (a test
// development run on glibc 2.36) they are null.
#if !__GLIBC_PREREQ(2, 40)
extern "C" void free_sized(void* pointer, size_t size) __attribute__((weak));
extern "C" void free_aligned_sized(void* pointer, size_t alignment, size_t size)
    __attribute__((weak));
#endif

namespace {

using tally_test::Escape;

constexpr size_t kMiB = size_t{1} << 20;

TEST(ApiIntrospection, Mallinfo2TracksSmallLiveBytes) {
  constexpr size_t kBlock = 1000;
  constexpr size_t kCount = 8192;
  constexpr size_t kTotal = kBlock * kCount;
  struct mallinfo2 before = mallinfo2();
  std::vector<void*> blocks;
  for (size_t i = 0; i < kCount; ++i) {
    blocks.push_back(malloc(kBlock));
    ASSERT_NE(blocks.back(), nullptr);
    memset(blocks.back(), 1, kBlock);
  }
  struct mallinfo2 during = mallinfo2();
  EXPECT_GE(during.uordblks, before.uordblks + kTotal)
      << "uordblks grew by " << during.uordblks - before.uordblks << " with " << kTotal
      << " bytes more live";
  EXPECT_LE(during.uordblks, during.arena + during.hblkhd) << "in use exceeds the heap";
  for (void* block : blocks) free(block);
  struct mallinfo2 after = mallinfo2();
  EXPECT_LE(after.uordblks + kTotal / 2, during.uordblks)
      << "uordblks did not fall after freeing " << kTotal << " bytes: " << during.uordblks << " -> "
      << after.uordblks;
}

TEST(ApiIntrospection, Mallinfo2TracksLargeLiveBytes) {
  // Large blocks may be counted as heap (uordblks) or as mappings (hblkhd, as glibc does).
  auto in_use = [](const struct mallinfo2& info) { return info.uordblks + info.hblkhd; };
  struct mallinfo2 before = mallinfo2();
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) {
    blocks.push_back(malloc(4 * kMiB));
    ASSERT_NE(blocks.back(), nullptr);
    Escape(blocks.back());
  }
  struct mallinfo2 during = mallinfo2();
  EXPECT_GE(in_use(during), in_use(before) + 32 * kMiB);
  for (void* block : blocks) free(block);
  struct mallinfo2 after = mallinfo2();
  EXPECT_LE(in_use(after) + 16 * kMiB, in_use(during));
}

// A big calloc'd buffer that the program uses only in part (a table sized for the worst
// case, an I/O buffer) must not become resident as a whole: memory fresh from the kernel is
// zero already. Checked modes wrote zeros over all of it, 256 MiB resident here.
TEST(ApiIntrospection, LargeCallocLeavesUntouchedPagesNonResident) {
  constexpr size_t kSize = 256 * kMiB;
  size_t before = tally_test::ResidentBytes();
  unsigned char* block = static_cast<unsigned char*>(calloc(1, kSize));
  ASSERT_NE(block, nullptr);
  size_t after = tally_test::ResidentBytes();
  size_t grown = after > before ? after - before : 0;  // a purge elsewhere may shrink it
  EXPECT_LT(grown, 32 * kMiB) << "calloc(1, 256 MiB) made " << grown / kMiB << " MiB resident";
  // Zero where it is read: its first and last bytes, and one byte a page between.
  size_t nonzero = block[0] + block[kSize - 1];
  for (size_t at = 0; at < kSize; at += 4096) nonzero += block[at] != 0;
  EXPECT_EQ(nonzero, 0u);
  // Freed and allocated again (from a cache of recently freed blocks, or the quarantine's
  // turnover): still zero after the program wrote to it.
  memset(block, 0x5a, 64 * kMiB);
  free(block);
  for (int round = 0; round < 4; ++round) {
    unsigned char* again = static_cast<unsigned char*>(calloc(kSize / 4096, 4096));
    ASSERT_NE(again, nullptr);
    size_t dirty = 0;
    for (size_t at = 0; at < kSize; at += 512) dirty += again[at] != 0;
    EXPECT_EQ(dirty, 0u) << "round " << round;
    memset(again, 0x5a, 64 * kMiB);
    free(again);
  }
}

// The "size" attribute of the first element in malloc_info's XML that starts with
// `element` (its name and type), or SIZE_MAX.
size_t MallocInfoSize(const std::string& xml, const std::string& element) {
  static const std::string kSizeAttribute = "size=\"";
  size_t at = xml.find(element);
  if (at == std::string::npos) return SIZE_MAX;
  size_t value = xml.find(kSizeAttribute, at);
  if (value == std::string::npos) return SIZE_MAX;
  return strtoull(xml.c_str() + value + kSizeAttribute.size(), nullptr, 10);
}

std::string MallocInfoText() {
  FILE* capture = tmpfile();
  if (capture == nullptr) return "";
  std::string text;
  if (malloc_info(0, capture) == 0 && fflush(capture) == 0) {
    long length = ftell(capture);
    text.resize(length > 0 ? static_cast<size_t>(length) : 0);
    if (pread(fileno(capture), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
      text.clear();
  }
  fclose(capture);
  return text;
}

// malloc_info describes tally's heap in glibc's XML: the live bytes follow the program,
// and the memory held covers them (guarded blocks' pages too, in debug mode).
TEST(ApiIntrospection, MallocInfoWritesTheLiveBytesAsXml) {
  TALLY_SKIP_IF_NOT_TALLY();
  constexpr size_t kBytes = 16 * kMiB;
  std::string before = MallocInfoText();
  ASSERT_EQ(before.rfind("<malloc version=", 0), 0u) << before;
  ASSERT_NE(before.find("</malloc>"), std::string::npos) << before;
  std::vector<void*> blocks;
  for (size_t i = 0; i < kBytes / 1000; ++i) {
    blocks.push_back(malloc(1000));
    ASSERT_NE(blocks.back(), nullptr);
    memset(blocks.back(), 1, 1000);
  }
  std::string during = MallocInfoText();
  size_t live_before = MallocInfoSize(before, "<total type=\"live\"");
  size_t live_during = MallocInfoSize(during, "<total type=\"live\"");
  ASSERT_NE(live_before, SIZE_MAX) << before;
  EXPECT_GE(live_during, live_before + kBytes - kBytes / 16) << during;
  EXPECT_GE(MallocInfoSize(during, "<system type=\"current\""), live_during) << during;
  EXPECT_GE(MallocInfoSize(during, "<system type=\"max\""), live_during) << during;
  EXPECT_NE(MallocInfoSize(during, "<total type=\"mmap\""), SIZE_MAX) << during;
  EXPECT_NE(MallocInfoSize(during, "<aspace type=\"mprotect\""), SIZE_MAX) << during;
  for (void* block : blocks) free(block);
  // What glibc does with options it does not know: EINVAL returned, errno untouched.
  errno = 0;
  EXPECT_EQ(malloc_info(1, stderr), EINVAL);
  EXPECT_EQ(errno, 0);
}

// C23's free_sized and free_aligned_sized free the block like free.
TEST(ApiIntrospection, SizedFreesOfC23FreeTheBlock) {
  TALLY_SKIP_IF_NOT_TALLY();
  ASSERT_NE(&free_sized, nullptr);
  ASSERT_NE(&free_aligned_sized, nullptr);
  constexpr size_t kBytes = 64 * kMiB;
  tally_stats before;
  tally_test::Tally().get_stats(&before);
  void* plain = malloc(kBytes);
  void* aligned = aligned_alloc(4096, kBytes);
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(aligned, nullptr);
  memset(plain, 1, 4096);
  memset(aligned, 1, 4096);
  tally_stats during;
  tally_test::Tally().get_stats(&during);
  EXPECT_GE(during.bytes_live + during.bytes_quarantined,
            before.bytes_live + before.bytes_quarantined + 2 * kBytes);
  // Each free takes its block out of the live bytes (safe and debug modes' quarantine
  // does not count as live).
  free_sized(plain, kBytes);
  tally_stats between;
  tally_test::Tally().get_stats(&between);
  EXPECT_LE(between.bytes_live + kBytes, during.bytes_live)
      << "free_sized: live bytes " << during.bytes_live << " -> " << between.bytes_live;
  free_aligned_sized(aligned, 4096, kBytes);
  tally_stats after;
  tally_test::Tally().get_stats(&after);
  EXPECT_LE(after.bytes_live + kBytes, between.bytes_live)
      << "free_aligned_sized: live bytes " << between.bytes_live << " -> " << after.bytes_live;
  EXPECT_EQ(after.bad_frees, before.bad_frees);
  free_sized(nullptr, 0);  // like free(NULL)
}

TEST(ApiIntrospection, MallocTrimReturnsZeroOrOne) {
  std::vector<void*> blocks;
  for (int i = 0; i < 20000; ++i) blocks.push_back(malloc(static_cast<size_t>(i % 2000) + 1));
  for (int i = 0; i < 8; ++i) blocks.push_back(malloc(2 * kMiB));
  for (void* block : blocks) {
    ASSERT_NE(block, nullptr);
    free(block);
  }
  for (size_t pad : {size_t{0}, size_t{4096}, kMiB, SIZE_MAX}) {
    int result = malloc_trim(pad);
    EXPECT_TRUE(result == 0 || result == 1) << "malloc_trim(" << pad << ") = " << result;
  }
  // Nothing has nothing to trim: still 0 or 1.
  int again = malloc_trim(0);
  EXPECT_TRUE(again == 0 || again == 1);
  // The allocator keeps working.
  void* block = malloc(1000);
  ASSERT_NE(block, nullptr);
  memset(block, 0, 1000);
  free(block);
}

TEST(ApiIntrospection, MallocStatsWritesToStderr) {
  void* live = malloc(12345);
  ASSERT_NE(live, nullptr);
  FILE* capture = tmpfile();
  ASSERT_NE(capture, nullptr);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_GE(dup2(fileno(capture), STDERR_FILENO), 0);
  malloc_stats();
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  long length = lseek(fileno(capture), 0, SEEK_END);
  EXPECT_GT(length, 0) << "malloc_stats() printed nothing on stderr";
  // Show the beginning of the report in the test log.
  std::string head(static_cast<size_t>(std::min(length, 400L)), '\0');
  if (pread(fileno(capture), head.data(), head.size(), 0) > 0) {
    printf("malloc_stats() output begins:\n%s\n", head.c_str());
  }
  fclose(capture);
  free(live);
}

const void* ObjectBase(const void* address) {
  Dl_info info;
  if (address == nullptr || dladdr(address, &info) == 0) return nullptr;
  return info.dli_fbase;
}

template <typename Function>
const void* Address(Function* function) {
  return reinterpret_cast<const void*>(function);
}

// Every replaced entry point resolves to tally, not to the C or C++ library.
TEST(ApiSymbols, EveryEntryPointIsTallys) {
  TALLY_SKIP_IF_NOT_TALLY();
  const void* tally = ObjectBase(Address(tally_test::Tally().malloc));
  ASSERT_NE(tally, nullptr);
  struct Entry {
    const char* name;
    const void* address;
  };
  const Entry entries[] = {
      {"malloc", Address(&malloc)},
      {"free", Address(&free)},
      {"calloc", Address(&calloc)},
      {"realloc", Address(&realloc)},
      {"reallocarray", Address(&reallocarray)},
      {"posix_memalign", Address(&posix_memalign)},
      {"aligned_alloc", Address(&aligned_alloc)},
      {"memalign", Address(&memalign)},
      {"valloc", Address(&valloc)},
      {"pvalloc", Address(&pvalloc)},
      {"malloc_usable_size", Address(&malloc_usable_size)},
      {"mallinfo2", Address(&mallinfo2)},
      {"malloc_trim", Address(&malloc_trim)},
      {"malloc_stats", Address(&malloc_stats)},
      {"malloc_info", Address(&malloc_info)},
      {"free_sized", Address(&free_sized)},
      {"free_aligned_sized", Address(&free_aligned_sized)},
      {"operator new(size_t)", Address(static_cast<void* (*)(size_t)>(&::operator new))},
      {"operator new[](size_t)", Address(static_cast<void* (*)(size_t)>(&::operator new[]))},
      {"operator new(size_t, nothrow)",
       Address(static_cast<void* (*)(size_t, const std::nothrow_t&) noexcept>(&::operator new))},
      {"operator new[](size_t, nothrow)",
       Address(static_cast<void* (*)(size_t, const std::nothrow_t&) noexcept>(&::operator new[]))},
      {"operator new(size_t, align_val_t)",
       Address(static_cast<void* (*)(size_t, std::align_val_t)>(&::operator new))},
      {"operator new[](size_t, align_val_t)",
       Address(static_cast<void* (*)(size_t, std::align_val_t)>(&::operator new[]))},
      {"operator new(size_t, align_val_t, nothrow)",
       Address(static_cast<void* (*)(size_t, std::align_val_t, const std::nothrow_t&) noexcept>(
           &::operator new))},
      {"operator new[](size_t, align_val_t, nothrow)",
       Address(static_cast<void* (*)(size_t, std::align_val_t, const std::nothrow_t&) noexcept>(
           &::operator new[]))},
      {"operator delete(void*)",
       Address(static_cast<void (*)(void*) noexcept>(&::operator delete))},
      {"operator delete[](void*)",
       Address(static_cast<void (*)(void*) noexcept>(&::operator delete[]))},
      {"operator delete(void*, size_t)",
       Address(static_cast<void (*)(void*, size_t) noexcept>(&::operator delete))},
      {"operator delete[](void*, size_t)",
       Address(static_cast<void (*)(void*, size_t) noexcept>(&::operator delete[]))},
      {"operator delete(void*, nothrow)",
       Address(static_cast<void (*)(void*, const std::nothrow_t&) noexcept>(&::operator delete))},
      {"operator delete[](void*, nothrow)",
       Address(static_cast<void (*)(void*, const std::nothrow_t&) noexcept>(&::operator delete[]))},
      {"operator delete(void*, align_val_t)",
       Address(static_cast<void (*)(void*, std::align_val_t) noexcept>(&::operator delete))},
      {"operator delete[](void*, align_val_t)",
       Address(static_cast<void (*)(void*, std::align_val_t) noexcept>(&::operator delete[]))},
      {"operator delete(void*, size_t, align_val_t)",
       Address(
           static_cast<void (*)(void*, size_t, std::align_val_t) noexcept>(&::operator delete))},
      {"operator delete[](void*, size_t, align_val_t)",
       Address(
           static_cast<void (*)(void*, size_t, std::align_val_t) noexcept>(&::operator delete[]))},
      {"operator delete(void*, align_val_t, nothrow)",
       Address(static_cast<void (*)(void*, std::align_val_t, const std::nothrow_t&) noexcept>(
           &::operator delete))},
      {"operator delete[](void*, align_val_t, nothrow)",
       Address(static_cast<void (*)(void*, std::align_val_t, const std::nothrow_t&) noexcept>(
           &::operator delete[]))},
  };
  for (const Entry& entry : entries) {
    Dl_info info;
    const char* where = dladdr(entry.address, &info) != 0 ? info.dli_fname : "?";
    EXPECT_EQ(ObjectBase(entry.address), tally)
        << entry.name << " resolves to " << where << ", not to tally";
  }
}

// tally's prefixed API behaves like the unprefixed one and shares its heap.
TEST(ApiTallyApi, PrefixedFunctionsMatchTheCLibraryContract) {
  TALLY_SKIP_IF_NOT_TALLY();
  const tally_test::TallyApi& t = tally_test::Tally();

  void* block = t.malloc(100);
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(tally_test::IsAligned(block, 16));
  EXPECT_GE(t.malloc_usable_size(block), 100u);
  EXPECT_EQ(t.malloc_usable_size(block), malloc_usable_size(block));
  free(block);  // the two APIs share one heap

  block = malloc(200);
  ASSERT_NE(block, nullptr);
  memset(block, 7, 200);
  void* grown = t.realloc(block, 5000);
  ASSERT_NE(grown, nullptr);
  EXPECT_EQ(static_cast<unsigned char*>(grown)[199], 7);
  t.free(grown);
  t.free(nullptr);
  EXPECT_EQ(t.malloc_usable_size(nullptr), 0u);

  errno = 0;
  EXPECT_EQ(t.malloc(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(t.calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(t.reallocarray(nullptr, SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);

  unsigned char* zeroed = static_cast<unsigned char*>(t.calloc(100, 10));
  ASSERT_NE(zeroed, nullptr);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(zeroed[i], 0);
  EXPECT_EQ(t.realloc(zeroed, 0), nullptr);  // frees, like realloc

  void* const sentinel = reinterpret_cast<void*>(uintptr_t{0x77});
  void* aligned = sentinel;
  EXPECT_EQ(t.posix_memalign(&aligned, 24, 10), EINVAL);
  EXPECT_EQ(aligned, sentinel);
  ASSERT_EQ(t.posix_memalign(&aligned, 4096, 10), 0);
  EXPECT_TRUE(tally_test::IsAligned(aligned, 4096));
  free(aligned);

  errno = 0;
  EXPECT_EQ(t.aligned_alloc(24, 48), nullptr);
  EXPECT_EQ(errno, EINVAL);
  aligned = t.aligned_alloc(256, 512);
  ASSERT_NE(aligned, nullptr);
  EXPECT_TRUE(tally_test::IsAligned(aligned, 256));
  t.free(aligned);

  aligned = t.memalign(24, 10);
  ASSERT_NE(aligned, nullptr);
  EXPECT_TRUE(tally_test::IsAligned(aligned, 32));
  t.free(aligned);

  const size_t page = tally_test::PageSize();
  aligned = t.valloc(10);
  ASSERT_NE(aligned, nullptr);
  EXPECT_TRUE(tally_test::IsAligned(aligned, page));
  t.free(aligned);
  aligned = t.pvalloc(page + 1);
  ASSERT_NE(aligned, nullptr);
  EXPECT_TRUE(tally_test::IsAligned(aligned, page));
  EXPECT_GE(t.malloc_usable_size(aligned), 2 * page);
  EXPECT_EQ(t.malloc_usable_size(aligned) % page, 0u);
  t.free(aligned);
}

TEST(ApiTallyApi, StatisticsFollowLiveBlocks) {
  TALLY_SKIP_IF_NOT_TALLY();
  // Single-threaded here, so the counters are exact.
  for (size_t size : {size_t{1}, size_t{16}, size_t{100}, size_t{1000}, size_t{40000}, 3 * kMiB}) {
    tally_stats before = tally_test::Stats();
    void* block = malloc(size);
    ASSERT_NE(block, nullptr);
    tally_stats during = tally_test::Stats();
    if (tally_test::CheckedMode()) {
      // Checked modes: usable size is the requested size; bytes_live counts the block.
      EXPECT_GE(during.bytes_live - before.bytes_live, malloc_usable_size(block)) << size;
    } else {
      EXPECT_EQ(during.bytes_live - before.bytes_live, malloc_usable_size(block))
          << "bytes_live is the sum of usable sizes (size " << size << ")";
    }
    EXPECT_GE(during.bytes_live_peak, during.bytes_live);
    free(block);
    tally_stats after = tally_test::Stats();
    EXPECT_EQ(after.bytes_live, before.bytes_live) << "size " << size;
  }

  tally_stats before = tally_test::Stats();
  void* small = malloc(32);
  void* large = malloc(64 * kMiB);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(large, nullptr);
  memset(large, 1, 64 * kMiB);
  tally_stats during = tally_test::Stats();
  EXPECT_EQ(during.large_blocks, before.large_blocks + 1) << "a 64 MiB block has its own mapping";
  EXPECT_GE(during.segments, 1u);
  EXPECT_GE(during.bytes_mapped, during.bytes_committed);
  EXPECT_GE(during.bytes_committed, during.bytes_live);
  EXPECT_GE(during.bytes_mapped, 64 * kMiB);
  EXPECT_GE(during.bytes_live_peak, during.bytes_live);
  EXPECT_GE(during.resident_bytes, 64 * kMiB) << "the 64 MiB block was touched";
  EXPECT_GE(during.resident_peak_bytes, during.resident_bytes);
  const size_t measured = tally_test::ResidentBytes();
  EXPECT_GE(during.resident_bytes, measured / 2);
  EXPECT_LE(during.resident_bytes, measured * 2);
  EXPECT_EQ(during.bad_frees, 0u);
  free(large);
  free(small);
  tally_stats after = tally_test::Stats();
  EXPECT_EQ(after.large_blocks, before.large_blocks);
  EXPECT_EQ(after.bad_frees, 0u);
}

TEST(ApiTallyApi, PrintStatsAndTrim) {
  TALLY_SKIP_IF_NOT_TALLY();
  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(malloc(static_cast<size_t>(i % 700) + 1));
  for (void* block : blocks) free(block);
  tally_test::Tally().print_stats();
  int trimmed = tally_test::Tally().trim();
  EXPECT_TRUE(trimmed == 0 || trimmed == 1) << "tally_trim() = " << trimmed;
  void* block = malloc(100);
  ASSERT_NE(block, nullptr);
  free(block);
}

}  // namespace
