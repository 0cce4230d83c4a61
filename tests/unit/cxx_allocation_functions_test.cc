// Recognizing operator new and operator delete, for the mismatch check: names in every
// form the symbolizer or dladdr may give (mangled, demangled, class members, templates),
// names that only look alike, and addresses inside this binary's own replaced operators.
#include "report/cxx_allocation_functions.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <new>

namespace tally {
namespace {

constexpr CxxAllocationFunction kNew = CxxAllocationFunction::kOperatorNew;
constexpr CxxAllocationFunction kDelete = CxxAllocationFunction::kOperatorDelete;
constexpr CxxAllocationFunction kNeither = CxxAllocationFunction::kNeither;

TEST(CxxAllocationFunctions, MangledGlobalOperators) {
  EXPECT_EQ(cxx_allocation_function_named("_Znwm"), kNew);
  EXPECT_EQ(cxx_allocation_function_named("_Znam"), kNew);
  EXPECT_EQ(cxx_allocation_function_named("_ZnwmRKSt9nothrow_t"), kNew);
  EXPECT_EQ(cxx_allocation_function_named("_ZnwmSt11align_val_t"), kNew);
  EXPECT_EQ(cxx_allocation_function_named("_ZdlPv"), kDelete);
  EXPECT_EQ(cxx_allocation_function_named("_ZdlPvm"), kDelete);
  EXPECT_EQ(cxx_allocation_function_named("_ZdaPvSt11align_val_t"), kDelete);
}

TEST(CxxAllocationFunctions, DemangledOperatorsAndClassMembers) {
  EXPECT_EQ(cxx_allocation_function_named("operator new(unsigned long)"), kNew);
  EXPECT_EQ(cxx_allocation_function_named("operator new[](unsigned long, std::nothrow_t const&)"),
            kNew);
  EXPECT_EQ(cxx_allocation_function_named("Pool::operator new(unsigned long)"), kNew);
  EXPECT_EQ(cxx_allocation_function_named("operator delete(void*, unsigned long)"), kDelete);
  EXPECT_EQ(cxx_allocation_function_named("ns::Node<int>::operator delete[](void*)"), kDelete);
}

TEST(CxxAllocationFunctions, OtherFunctionsAreNeither) {
  EXPECT_EQ(cxx_allocation_function_named(nullptr), kNeither);
  EXPECT_EQ(cxx_allocation_function_named(""), kNeither);
  EXPECT_EQ(cxx_allocation_function_named("malloc"), kNeither);
  EXPECT_EQ(cxx_allocation_function_named("_ZN4llvm3foo3barEv"), kNeither);
  EXPECT_EQ(cxx_allocation_function_named("_Zdvii"), kNeither);  // operator/
  EXPECT_EQ(cxx_allocation_function_named("make_operator new_thing()"), kNeither);
  EXPECT_EQ(cxx_allocation_function_named("operator newline(int)"), kNeither);
  EXPECT_EQ(cxx_allocation_function_named("std::vector<int>::push_back(int const&)"), kNeither);
}

// A class with its own operators (the class-member form), and a function that is neither.
struct Recorded {
  long value;
  __attribute__((noinline)) static void* operator new(size_t size) {
    if (void* block = malloc(size)) return block;
    throw std::bad_alloc();
  }
  __attribute__((noinline)) static void operator delete(void* block) { free(block); }
};

__attribute__((noinline)) long neither(long value) {
  __asm__ volatile("" : "+r"(value));
  return value + 1;
}

// An address a few bytes into a function: inside it, as a return address would be.
template <typename Function>
uintptr_t inside(Function* function) {
  return reinterpret_cast<uintptr_t>(function) + 2;
}

TEST(CxxAllocationFunctions, AddressesInsideOperatorsOfThisBinary) {
  Recorded* recorded = new Recorded{neither(6)};
  delete recorded;
  EXPECT_EQ(cxx_allocation_function_at(inside(&Recorded::operator new)), kNew);
  EXPECT_EQ(cxx_allocation_function_at(inside(&Recorded::operator delete)), kDelete);
  EXPECT_EQ(cxx_allocation_function_at(inside(&neither)), kNeither);
  // Asked again: the cached answers agree.
  EXPECT_EQ(cxx_allocation_function_at(inside(&Recorded::operator new)), kNew);
  EXPECT_EQ(cxx_allocation_function_at(inside(&neither)), kNeither);
}

}  // namespace
}  // namespace tally
