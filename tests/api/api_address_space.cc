// Running out of address space yields NULL and ENOMEM, never a crash, and the heap recovers
// once memory is freed. Runs in a forked child whose RLIMIT_AS is the address space it
// already uses plus 1 GiB.
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <new>

#include "tally_test_support.h"

namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kHeadroom = size_t{1} << 30;

// Blocks are chained through their first word, so no bookkeeping memory is needed.
struct Node {
  Node* next;
  size_t check;
};

enum Failure {
  kOk = 0,
  kSetrlimit = 10,
  kLargeNeverFailed,
  kLargeWrongErrno,
  kLargeTooFew,
  kSmallNeverFailed,
  kSmallWrongErrno,
  kCallocNotNull,
  kPosixMemalignNotEnomem,
  kAlignedAllocNotNull,
  kReallocNotNull,
  kReallocDamaged,
  kNothrowNewNotNull,
  kNewDidNotThrow,
  kLargeAfterFree,
  kSmallAfterFree,
  kReuseTooFew,
  kListDamaged,
};

const char* Describe(int code) {
  switch (code) {
    case kSetrlimit:
      return "setrlimit failed";
    case kLargeNeverFailed:
      return "1 MiB blocks never failed within 16 GiB despite RLIMIT_AS (limit not honoured?)";
    case kLargeWrongErrno:
      return "malloc(1 MiB) returned NULL without errno ENOMEM";
    case kLargeTooFew:
      return "fewer than 64 one-MiB blocks fit in 1 GiB of address space";
    case kSmallNeverFailed:
      return "100-byte blocks never failed within the loop bound";
    case kSmallWrongErrno:
      return "malloc(100) returned NULL without errno ENOMEM";
    case kCallocNotNull:
      return "calloc(1, 1 MiB) did not fail with NULL/ENOMEM when exhausted";
    case kPosixMemalignNotEnomem:
      return "posix_memalign(4096, 1 MiB) did not return ENOMEM";
    case kAlignedAllocNotNull:
      return "aligned_alloc(64, 1 MiB) did not fail with NULL/ENOMEM";
    case kReallocNotNull:
      return "realloc(p, 1 MiB) did not fail with NULL/ENOMEM";
    case kReallocDamaged:
      return "a failed realloc damaged the block";
    case kNothrowNewNotNull:
      return "operator new(1 MiB, nothrow) did not return nullptr";
    case kNewDidNotThrow:
      return "operator new(1 MiB) did not throw std::bad_alloc";
    case kLargeAfterFree:
      return "malloc(1 MiB) failed after everything was freed";
    case kSmallAfterFree:
      return "malloc(100) failed after everything was freed";
    case kReuseTooFew:
      return "after freeing, fewer than half as many 1 MiB blocks fit again";
    case kListDamaged:
      return "a block's contents changed while the heap was exhausted";
    default:
      return "unknown failure";
  }
}

Node* Push(Node* head, void* block, size_t check) {
  Node* node = static_cast<Node*>(block);
  node->next = head;
  node->check = check;
  return node;
}

// Frees a chain; returns false if a node's check word was damaged.
bool FreeAll(Node* head, size_t check) {
  bool intact = true;
  while (head != nullptr) {
    Node* next = head->next;
    intact &= head->check == check;
    free(head);
    head = next;
  }
  return intact;
}

int Exhaust(size_t* large_count_out, size_t* small_count_out) {
  rlimit limit;
  limit.rlim_cur = limit.rlim_max = tally_test::VirtualBytes() + kHeadroom;
  if (setrlimit(RLIMIT_AS, &limit) != 0) return kSetrlimit;

  int failure = kOk;
  Node* large = nullptr;
  size_t large_count = 0;
  for (;;) {
    if (large_count == 16384) {
      failure = kLargeNeverFailed;
      break;
    }
    errno = 0;
    void* block = malloc(kMiB);
    if (block == nullptr) {
      if (errno != ENOMEM) failure = kLargeWrongErrno;
      break;
    }
    large = Push(large, block, 0x1A4E);
    ++large_count;
  }
  *large_count_out = large_count;
  if (failure == kOk && large_count < 64) failure = kLargeTooFew;

  Node* small = nullptr;
  size_t small_count = 0;
  while (failure == kOk) {
    if (small_count == 20'000'000) {
      failure = kSmallNeverFailed;
      break;
    }
    errno = 0;
    void* block = malloc(100);
    if (block == nullptr) {
      if (errno != ENOMEM) failure = kSmallWrongErrno;
      break;
    }
    small = Push(small, block, 0x5A11);
    ++small_count;
  }
  *small_count_out = small_count;

  // Everything else fails cleanly too while the address space is exhausted.
  if (failure == kOk) {
    errno = 0;
    void* block = calloc(1, kMiB);
    if (block != nullptr || errno != ENOMEM) failure = kCallocNotNull;
    free(block);
  }
  if (failure == kOk) {
    void* block = nullptr;
    int status = posix_memalign(&block, 4096, kMiB);
    if (status != ENOMEM) failure = kPosixMemalignNotEnomem;
    if (status == 0) free(block);
  }
  if (failure == kOk) {
    errno = 0;
    void* block = aligned_alloc(64, kMiB);
    if (block != nullptr || errno != ENOMEM) failure = kAlignedAllocNotNull;
    free(block);
  }
  if (failure == kOk && small != nullptr) {
    errno = 0;
    void* moved = realloc(small, kMiB);
    if (moved != nullptr || errno != ENOMEM) {
      failure = kReallocNotNull;
      if (moved != nullptr) small = static_cast<Node*>(moved);
    } else if (small->check != 0x5A11) {
      failure = kReallocDamaged;
    }
  }
  if (failure == kOk) {
    void* block = ::operator new(kMiB, std::nothrow);
    if (block != nullptr) {
      failure = kNothrowNewNotNull;
      ::operator delete(block);
    }
  }
  if (failure == kOk) {
    try {
      void* block = ::operator new(kMiB);
      tally_test::Escape(block);
      ::operator delete(block);
      failure = kNewDidNotThrow;
    } catch (const std::bad_alloc&) {
    }
  }

  // Free everything; the heap must serve requests again.
  bool intact = FreeAll(small, 0x5A11);
  intact &= FreeAll(large, 0x1A4E);
  if (failure == kOk && !intact) failure = kListDamaged;
  if (failure == kOk) {
    void* block = malloc(kMiB);
    if (block == nullptr) failure = kLargeAfterFree;
    free(block);
  }
  if (failure == kOk) {
    void* block = malloc(100);
    if (block == nullptr) failure = kSmallAfterFree;
    free(block);
  }
  if (failure == kOk) {
    // The freed address space is really available again.
    Node* again = nullptr;
    size_t again_count = 0;
    while (again_count < large_count / 2) {
      void* block = malloc(kMiB);
      if (block == nullptr) break;
      again = Push(again, block, 0xA6A1);
      ++again_count;
    }
    if (again_count < large_count / 2) failure = kReuseTooFew;
    FreeAll(again, 0xA6A1);
  }
  return failure;
}

TEST(ApiAddressSpace, ExhaustionGivesNullNotACrash) {
  fflush(stdout);
  fflush(stderr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(120);  // a hang is a failure, not a stuck test
    size_t large_count = 0, small_count = 0;
    int failure = Exhaust(&large_count, &small_count);
    fprintf(stderr, "child: %zu one-MiB blocks and %zu 100-byte blocks before NULL%s%s\n",
            large_count, small_count, failure ? "; FAILED: " : "",
            failure ? Describe(failure) : "");
    fflush(stderr);
    _exit(failure);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  if (WIFSIGNALED(status)) {
    FAIL() << "the child died of signal " << WTERMSIG(status) << " (" << strsignal(WTERMSIG(status))
           << ") while exhausting its address space";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << Describe(WEXITSTATUS(status));
}

}  // namespace
