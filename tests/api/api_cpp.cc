// The C++ allocation operators: every form of operator new and delete, and their behaviour
// when memory cannot be had (std::bad_alloc, nullptr, the new-handler).
//
// This file requests deliberately impossible sizes; CMake builds it with
// -Wno-alloc-size-larger-than (GCC) for that reason.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::Escape;
using tally_test::IsAligned;

constexpr size_t kMiB = size_t{1} << 20;
const size_t kSizes[] = {0, 1, 8, 15, 16, 100, 1000, 4096, 100000, kMiB + 3};

void Use(void* block, size_t size, int value) {
  ASSERT_NE(block, nullptr);
  memset(block, value, size);
  Escape(block);
}

// The live-byte counter falls back to where it was after a round trip (tally only).
class RoundTrip {
 public:
  RoundTrip() : before_(tally_test::Stats()) {}
  ~RoundTrip() {
    if (tally_test::TallyPresent()) {
      EXPECT_EQ(tally_test::Stats().bytes_live, before_.bytes_live) << "a block was not freed";
    }
  }

 private:
  tally_stats before_;
};

TEST(ApiCppOperators, PlainAndArrayForms) {
  RoundTrip check;
  for (size_t size : kSizes) {
    void* single = ::operator new(size);
    Use(single, size, 1);
    ::operator delete(single);
    void* array = ::operator new[](size);
    Use(array, size, 2);
    ::operator delete[](array);
  }
}

TEST(ApiCppOperators, SizedDelete) {
  RoundTrip check;
  for (size_t size : kSizes) {
    void* single = ::operator new(size);
    Use(single, size, 3);
    ::operator delete(single, size);
    void* array = ::operator new[](size);
    Use(array, size, 4);
    ::operator delete[](array, size);
  }
}

TEST(ApiCppOperators, NothrowForms) {
  RoundTrip check;
  for (size_t size : kSizes) {
    void* single = ::operator new(size, std::nothrow);
    Use(single, size, 5);
    ::operator delete(single, std::nothrow);
    void* array = ::operator new[](size, std::nothrow);
    Use(array, size, 6);
    ::operator delete[](array, std::nothrow);
    // Nothrow-allocated blocks may be released by the ordinary delete too.
    single = ::operator new(size, std::nothrow);
    Use(single, size, 7);
    ::operator delete(single);
  }
}

TEST(ApiCppOperators, AlignedForms) {
  RoundTrip check;
  for (size_t alignment = 1; alignment <= kMiB; alignment *= 2) {
    const std::align_val_t align{alignment};
    for (size_t size : {size_t{1}, alignment, alignment + 1, 3 * alignment, size_t{5000}}) {
      void* single = ::operator new(size, align);
      EXPECT_TRUE(IsAligned(single, alignment));
      Use(single, size, 8);
      ::operator delete(single, align);

      void* array = ::operator new[](size, align);
      EXPECT_TRUE(IsAligned(array, alignment));
      Use(array, size, 9);
      ::operator delete[](array, align);

      // Aligned + sized.
      single = ::operator new(size, align);
      Use(single, size, 10);
      ::operator delete(single, size, align);
      array = ::operator new[](size, align);
      Use(array, size, 11);
      ::operator delete[](array, size, align);

      // Aligned + nothrow.
      single = ::operator new(size, align, std::nothrow);
      EXPECT_TRUE(IsAligned(single, alignment));
      Use(single, size, 12);
      ::operator delete(single, align, std::nothrow);
      array = ::operator new[](size, align, std::nothrow);
      EXPECT_TRUE(IsAligned(array, alignment));
      Use(array, size, 13);
      ::operator delete[](array, align, std::nothrow);
    }
  }
}

TEST(ApiCppOperators, MixesWithMalloc) {
  // The C++ operators and malloc share one heap: blocks from operator new have a usable size.
  for (size_t size : kSizes) {
    void* block = ::operator new(size);
    EXPECT_GE(malloc_usable_size(block), size);
    Use(block, malloc_usable_size(block), 14);
    ::operator delete(block);
  }
}

struct Tracked {
  static int alive;
  std::string text;
  explicit Tracked(int n = 0) : text(static_cast<size_t>(n % 97) + 20, 'q') { ++alive; }
  ~Tracked() { --alive; }
};
int Tracked::alive = 0;

TEST(ApiCppOperators, ContainersAndSmartPointers) {
  RoundTrip check;
  {
    std::vector<std::unique_ptr<Tracked>> objects;
    for (int i = 0; i < 10000; ++i) objects.push_back(std::make_unique<Tracked>(i));
    std::vector<std::shared_ptr<Tracked>> shared;
    for (int i = 0; i < 5000; ++i) shared.push_back(std::make_shared<Tracked>(i));
    auto array = std::make_unique<Tracked[]>(5);
    EXPECT_EQ(Tracked::alive, 15005);
    std::vector<std::string> strings;
    for (int i = 0; i < 5000; ++i) strings.emplace_back(static_cast<size_t>(i), 'x');
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(strings[static_cast<size_t>(i)].size(), size_t(i));
  }
  EXPECT_EQ(Tracked::alive, 0);
}

// Impossible requests: nullptr from the nothrow forms, std::bad_alloc from the others.
// (Own suite, so that an allocator that aborts here does not hide the other results.)
const size_t kImpossible[] = {SIZE_MAX, SIZE_MAX - 4096, static_cast<size_t>(PTRDIFF_MAX) + 1,
                              size_t{1} << 47};

TEST(ApiCppOutOfMemory, NothrowFormsReturnNull) {
  for (size_t size : kImpossible) {
    EXPECT_EQ(::operator new(size, std::nothrow), nullptr) << size;
    EXPECT_EQ(::operator new[](size, std::nothrow), nullptr) << size;
    EXPECT_EQ(::operator new (size, std::align_val_t{64}, std::nothrow), nullptr) << size;
    EXPECT_EQ(::operator new[](size, std::align_val_t{4096}, std::nothrow), nullptr) << size;
  }
  volatile size_t count = SIZE_MAX / 2;
  char* chars = new (std::nothrow) char[count];
  EXPECT_EQ(chars, nullptr);
  delete[] chars;
}

TEST(ApiCppOutOfMemory, ThrowingFormsThrowBadAlloc) {
  for (size_t size : kImpossible) {
    EXPECT_THROW(Escape(::operator new(size)), std::bad_alloc) << size;
    EXPECT_THROW(Escape(::operator new[](size)), std::bad_alloc) << size;
    EXPECT_THROW(Escape(::operator new (size, std::align_val_t{64})), std::bad_alloc) << size;
    EXPECT_THROW(Escape(::operator new[](size, std::align_val_t{4096})), std::bad_alloc) << size;
  }
  volatile size_t count = SIZE_MAX / 2;
  EXPECT_THROW(Escape(new char[count]), std::bad_alloc);
  EXPECT_THROW(std::vector<char>(static_cast<size_t>(PTRDIFF_MAX) / 2 + 1), std::bad_alloc);
  // The heap keeps working after the exceptions.
  std::string text(100000, 'z');
  EXPECT_EQ(text.back(), 'z');
}

int g_handler_calls = 0;
int g_handler_limit = 0;
void CountingHandler() {
  if (++g_handler_calls >= g_handler_limit) std::set_new_handler(nullptr);
}

// [new.delete.single]: a failing operator new calls the new-handler until it succeeds or
// there is no handler; then it throws (or, for nothrow, returns nullptr).
TEST(ApiCppOutOfMemory, NewHandlerIsCalledUntilRemoved) {
  g_handler_calls = 0;
  g_handler_limit = 3;
  std::set_new_handler(CountingHandler);
  EXPECT_THROW(Escape(::operator new(SIZE_MAX)), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);

  g_handler_calls = 0;
  g_handler_limit = 2;
  std::set_new_handler(CountingHandler);
  EXPECT_EQ(::operator new(SIZE_MAX, std::nothrow), nullptr);
  EXPECT_EQ(g_handler_calls, 2);

  g_handler_calls = 0;
  g_handler_limit = 4;
  std::set_new_handler(CountingHandler);
  EXPECT_THROW(Escape(::operator new[](SIZE_MAX, std::align_val_t{256})), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 4);
  std::set_new_handler(nullptr);
}

void* g_reserve = nullptr;
void ReleaseReserve() {
  free(g_reserve);
  g_reserve = nullptr;
  std::set_new_handler(nullptr);
}

TEST(ApiCppOutOfMemory, NewHandlerThatFreesMemoryLetsNewSucceedOrThrow) {
  // A handler that frees memory and uninstalls itself; new then retries once more, which
  // fails again for an impossible size, so bad_alloc follows - but only after the handler ran.
  g_reserve = malloc(1000);
  std::set_new_handler(ReleaseReserve);
  EXPECT_THROW(Escape(::operator new(SIZE_MAX - 100)), std::bad_alloc);
  EXPECT_EQ(g_reserve, nullptr) << "the new-handler was not called";
  std::set_new_handler(nullptr);
}

}  // namespace
