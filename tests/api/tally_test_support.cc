// The test programs' main(): checks that tally is this process's malloc, then runs the
// selected tests. See tally_test_support.h.
#include "tally_test_support.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tally_test {
namespace {

TallyApi Resolve() {
  TallyApi api;
#if defined(TALLY_TEST_STATIC_LINK)
  // Linked against libtally.a: bind the prefixed API directly.
  api.malloc = &tally_malloc;
  api.free = &tally_free;
  api.calloc = &tally_calloc;
  api.realloc = &tally_realloc;
  api.reallocarray = &tally_reallocarray;
  api.posix_memalign = &tally_posix_memalign;
  api.aligned_alloc = &tally_aligned_alloc;
  api.memalign = &tally_memalign;
  api.valloc = &tally_valloc;
  api.pvalloc = &tally_pvalloc;
  api.malloc_usable_size = &tally_malloc_usable_size;
  api.get_stats = &tally_get_stats;
  api.print_stats = &tally_print_stats;
  api.trim = &tally_trim;
  api.mode = &tally_mode;
#else
  // Preloaded: the test program is not linked to tally, so look the symbols up.
  auto bind = [](auto& slot, const char* name) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)> >(dlsym(RTLD_DEFAULT, name));
  };
  bind(api.malloc, "tally_malloc");
  bind(api.free, "tally_free");
  bind(api.calloc, "tally_calloc");
  bind(api.realloc, "tally_realloc");
  bind(api.reallocarray, "tally_reallocarray");
  bind(api.posix_memalign, "tally_posix_memalign");
  bind(api.aligned_alloc, "tally_aligned_alloc");
  bind(api.memalign, "tally_memalign");
  bind(api.valloc, "tally_valloc");
  bind(api.pvalloc, "tally_pvalloc");
  bind(api.malloc_usable_size, "tally_malloc_usable_size");
  bind(api.get_stats, "tally_get_stats");
  bind(api.print_stats, "tally_print_stats");
  bind(api.trim, "tally_trim");
  bind(api.mode, "tally_mode");
#endif
  return api;
}

}  // namespace

bool CheckedMode() {
  const TallyApi& api = Tally();
  return api.mode && std::string(api.mode()) != "fast";
}

namespace {

// Reads the two first fields of /proc/self/statm without allocating.
void ReadStatm(size_t* size_pages, size_t* resident_pages) {
  *size_pages = 0;
  *resident_pages = 0;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buffer[256];
  ssize_t length = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (length <= 0) return;
  buffer[length] = '\0';
  char* end = nullptr;
  *size_pages = strtoull(buffer, &end, 10);
  *resident_pages = strtoull(end, nullptr, 10);
}

const void* ObjectBase(const void* address) {
  Dl_info info;
  if (dladdr(address, &info) == 0) return nullptr;
  return info.dli_fbase;
}

// Checks, before any test, that the allocator of this process is tally.
class AllocatorCheck : public testing::Environment {
 public:
  void SetUp() override {
    if (!TallyPresent()) {
      if (ForeignAllocatorAllowed()) {
        fprintf(stderr,
                "WARNING: tally is not loaded; TALLY_TEST_ALLOW_FOREIGN_ALLOCATOR=1 runs the tests "
                "against the process's current allocator (test development only). "
                "Tally-specific checks are skipped.\n");
        return;
      }
      FAIL() << "tally is not in this process: tally_malloc / tally_get_stats not found. "
#if defined(TALLY_TEST_STATIC_LINK)
                "(static build: link tally_static first)"
#else
                "Run with LD_PRELOAD=/path/to/libtally.so (ctest does)."
#endif
          ;
    }
    const TallyApi& api = Tally();

    // The unprefixed entry points bound in this process live in the same object as tally's.
    const void* tally_object = ObjectBase(reinterpret_cast<const void*>(api.malloc));
    ASSERT_NE(tally_object, nullptr);
    EXPECT_EQ(ObjectBase(reinterpret_cast<const void*>(&malloc)), tally_object)
        << "malloc is not tally's";
    EXPECT_EQ(ObjectBase(reinterpret_cast<const void*>(&free)), tally_object)
        << "free is not tally's";
    EXPECT_EQ(ObjectBase(reinterpret_cast<const void*>(&realloc)), tally_object)
        << "realloc is not tally's";
    EXPECT_EQ(ObjectBase(reinterpret_cast<const void*>(&calloc)), tally_object)
        << "calloc is not tally's";
    EXPECT_EQ(ObjectBase(dlsym(RTLD_DEFAULT, "malloc")), tally_object)
        << "the C library's own calls to malloc would not reach tally";

    // A fresh block is tally's: both views of its usable size agree.
    void* small = malloc(100);
    void* large = malloc(1 << 20);
    ASSERT_NE(small, nullptr);
    ASSERT_NE(large, nullptr);
    EXPECT_EQ(malloc_usable_size(small), api.malloc_usable_size(small));
    EXPECT_EQ(malloc_usable_size(large), api.malloc_usable_size(large));
    free(large);
    free(small);

    // And tally's books count it (no other thread runs yet, so the counters are exact).
    tally_stats before = Stats();
    void* block = malloc(1 << 20);
    ASSERT_NE(block, nullptr);
    Escape(block);
    tally_stats during = Stats();
    free(block);
    tally_stats after = Stats();
    EXPECT_GE(during.bytes_live, before.bytes_live + (1 << 20))
        << "a 1 MiB malloc is not counted by tally_get_stats";
    EXPECT_LT(after.bytes_live, during.bytes_live);

    // The C library's internal allocations (strdup calls malloc) reach tally too.
    std::string text(256 << 10, 'x');
    tally_stats before_strdup = Stats();
    char* copy = strdup(text.c_str());
    ASSERT_NE(copy, nullptr);
    tally_stats during_strdup = Stats();
    EXPECT_GE(during_strdup.bytes_live, before_strdup.bytes_live + text.size())
        << "strdup's allocation did not go to tally";
    free(copy);
  }
};

}  // namespace

const TallyApi& Tally() {
  static const TallyApi api = Resolve();
  return api;
}

bool TallyPresent() {
  const TallyApi& a = Tally();
  return a.malloc && a.free && a.calloc && a.realloc && a.reallocarray && a.posix_memalign &&
         a.aligned_alloc && a.memalign && a.valloc && a.pvalloc && a.malloc_usable_size &&
         a.get_stats && a.print_stats && a.trim;
}

bool ForeignAllocatorAllowed() {
  const char* value = getenv("TALLY_TEST_ALLOW_FOREIGN_ALLOCATOR");
  return value != nullptr && strcmp(value, "1") == 0;
}

tally_stats Stats() {
  tally_stats stats;
  memset(&stats, 0, sizeof stats);
  if (Tally().get_stats != nullptr) Tally().get_stats(&stats);
  return stats;
}

size_t PageSize() {
  return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t ResidentBytes() {
  size_t size_pages, resident_pages;
  ReadStatm(&size_pages, &resident_pages);
  return resident_pages * PageSize();
}

size_t VirtualBytes() {
  size_t size_pages, resident_pages;
  ReadStatm(&size_pages, &resident_pages);
  return size_pages * PageSize();
}

namespace {

uint64_t Seed(const void* block, size_t size, uint64_t salt) {
  return reinterpret_cast<uintptr_t>(block) * 0xD6E8FEB86659FD93ull ^ size * 0x9E3779B97F4A7C15ull ^
         (salt + 1) * 0xA0761D6478BD642Full;
}

inline uint64_t Word(uint64_t seed, size_t index) {
  uint64_t x = seed + index * 0x9E3779B97F4A7C15ull;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  return x;
}

void FillRange(unsigned char* bytes, size_t begin, size_t end, uint64_t seed) {
  size_t i = begin;
  while (i < end) {
    uint64_t value = Word(seed, i / 8);
    size_t offset = i % 8;
    size_t take = std::min<size_t>(8 - offset, end - i);
    if (take == 8) {
      memcpy(bytes + i, &value, 8);
    } else {
      memcpy(bytes + i, reinterpret_cast<unsigned char*>(&value) + offset, take);
    }
    i += take;
  }
}

size_t CheckRange(const unsigned char* bytes, size_t begin, size_t end, uint64_t seed) {
  size_t i = begin;
  while (i < end) {
    uint64_t value = Word(seed, i / 8);
    size_t offset = i % 8;
    size_t take = std::min<size_t>(8 - offset, end - i);
    if (take == 8) {
      uint64_t stored;
      memcpy(&stored, bytes + i, 8);
      if (stored == value) {
        i += 8;
        continue;
      }
    }
    if (memcmp(bytes + i, reinterpret_cast<unsigned char*>(&value) + offset, take) != 0) {
      for (size_t k = 0; k < take; ++k) {
        if (bytes[i + k] != reinterpret_cast<unsigned char*>(&value)[offset + k]) return i + k;
      }
    }
    i += take;
  }
  return end;
}

// Calls visit(begin, end) on the ranges a block of `size` bytes carries its pattern in.
template <typename Visit>
bool ForEachPatternRange(size_t size, Visit visit) {
  if (size <= kDenseLimit) return visit(0, size);
  constexpr size_t kEdge = kDenseLimit / 2;
  if (!visit(0, kEdge)) return false;
  for (size_t offset = kEdge; offset + 8 <= size - kEdge; offset += 4096) {
    if (!visit(offset, offset + 8)) return false;
  }
  return visit(size - kEdge, size);
}

}  // namespace

void FillPattern(void* block, size_t size, uint64_t salt) {
  auto* bytes = static_cast<unsigned char*>(block);
  uint64_t seed = Seed(block, size, salt);
  ForEachPatternRange(size, [&](size_t begin, size_t end) {
    FillRange(bytes, begin, end, seed);
    return true;
  });
}

bool CheckPattern(const void* block, size_t size, uint64_t salt) {
  auto* bytes = static_cast<const unsigned char*>(block);
  uint64_t seed = Seed(block, size, salt);
  return ForEachPatternRange(
      size, [&](size_t begin, size_t end) { return CheckRange(bytes, begin, end, seed) == end; });
}

bool CheckMovedPattern(const void* block, size_t prefix, const void* original, size_t original_size,
                       uint64_t salt) {
  if (original_size > kDenseLimit || prefix > original_size) return false;
  return CheckRange(static_cast<const unsigned char*>(block), 0, prefix,
                    Seed(original, original_size, salt)) == prefix;
}

void FillPositional(void* block, size_t begin, size_t end, uint64_t salt) {
  FillRange(static_cast<unsigned char*>(block), begin, end, Seed(nullptr, 0, salt));
}

size_t CheckPositional(const void* block, size_t begin, size_t end, uint64_t salt) {
  return CheckRange(static_cast<const unsigned char*>(block), begin, end, Seed(nullptr, 0, salt));
}

}  // namespace tally_test

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  testing::AddGlobalTestEnvironment(new tally_test::AllocatorCheck);
  int status = RUN_ALL_TESTS();
  // A filter that selects nothing (a renamed suite) must not pass silently.
  if (testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    fprintf(stderr, "error: no test matched the filter\n");
    return 1;
  }
  return status;
}
