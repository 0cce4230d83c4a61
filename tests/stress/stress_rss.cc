// A large working set (~512 MiB in 64-byte, 1 KiB and large blocks) is allocated, touched
// and freed; the resident set must fall again:
//  - StressRssTrim: right after malloc_trim(0), below 25% of the peak increase;
//  - StressRssDecay: without malloc_trim, by at least half within ~2 s of light activity
//    (tally decommits free pages after a short delay).
// Each suite runs in its own process (CTest runs them serially), so RSS is this test's.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <cstring>

#include "tally_test_support.h"

namespace {

using tally_test::ResidentBytes;

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kSmallBytes = 128 * kMiB;   // in 64-byte blocks
constexpr size_t kMediumBytes = 128 * kMiB;  // in 1 KiB blocks
constexpr size_t kLargeBytes = 256 * kMiB;   // in 256 KiB .. 4 MiB blocks
constexpr auto kDecayDeadline = std::chrono::milliseconds(3000);

// Blocks are chained through their first word: no bookkeeping memory.
struct Node {
  Node* next;
};

struct WorkingSet {
  Node* small = nullptr;
  Node* medium = nullptr;
  Node* large = nullptr;
  size_t count = 0;
};

bool Chain(Node*& head, size_t size, int fill) {
  void* block = malloc(size);
  if (block == nullptr) return false;
  memset(block, fill, size);  // touch every page
  Node* node = static_cast<Node*>(block);
  node->next = head;
  head = node;
  return true;
}

bool Build(WorkingSet& set) {
  for (size_t bytes = 0; bytes < kSmallBytes; bytes += 64, ++set.count) {
    if (!Chain(set.small, 64, 0x11)) return false;
  }
  for (size_t bytes = 0; bytes < kMediumBytes; bytes += 1024, ++set.count) {
    if (!Chain(set.medium, 1024, 0x22)) return false;
  }
  const size_t large_sizes[] = {256 * 1024, 300 * 1000, kMiB, 2 * kMiB + 5, 4 * kMiB};
  size_t bytes = 0;
  for (size_t i = 0; bytes < kLargeBytes; ++i, ++set.count) {
    size_t size = large_sizes[i % 5];
    if (!Chain(set.large, size, 0x33)) return false;
    bytes += size;
  }
  return true;
}

void FreeChain(Node* head) {
  while (head != nullptr) {
    Node* next = head->next;
    free(head);
    head = next;
  }
}

// Allocates, touches and frees the working set; returns the baseline and peak RSS.
void AllocateTouchAndFree(size_t* baseline, size_t* peak) {
  // Warm up the allocator so that its fixed overhead is in the baseline.
  for (int i = 0; i < 1000; ++i) free(malloc(static_cast<size_t>(i) * 16 + 1));
  *baseline = ResidentBytes();
  WorkingSet set;
  ASSERT_TRUE(Build(set)) << "could not allocate the working set";
  *peak = ResidentBytes();
  printf("baseline RSS %zu MiB, peak %zu MiB with %zu blocks live\n", *baseline >> 20, *peak >> 20,
         set.count);
  ASSERT_GE(*peak, *baseline + 400 * kMiB) << "the working set is not resident";
  FreeChain(set.small);
  FreeChain(set.medium);
  FreeChain(set.large);
}

TEST(StressRssTrim, ResidentSetFallsAfterMallocTrim) {
  size_t baseline = 0, peak = 0;
  AllocateTouchAndFree(&baseline, &peak);
  if (HasFatalFailure()) return;
  const size_t after_free = ResidentBytes();
  const int trimmed = malloc_trim(0);
  const size_t after_trim = ResidentBytes();
  const size_t increase = peak - baseline;
  printf("after free %zu MiB; malloc_trim(0) = %d; after trim %zu MiB\n", after_free >> 20, trimmed,
         after_trim >> 20);
  EXPECT_LT(after_trim, baseline + increase / 4)
      << "RSS after malloc_trim is " << (after_trim - baseline) / kMiB << " MiB above the "
      << "baseline; the peak increase was " << increase / kMiB << " MiB";
  EXPECT_TRUE(trimmed == 0 || trimmed == 1);
  // The heap is still fully usable afterwards.
  WorkingSet again;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(Chain(again.medium, 1024, 0x44));
  FreeChain(again.medium);
}

TEST(StressRssDecay, ResidentSetFallsWithoutMallocTrim) {
  size_t baseline = 0, peak = 0;
  AllocateTouchAndFree(&baseline, &peak);
  if (HasFatalFailure()) return;
  const size_t increase = peak - baseline;
  const size_t target = baseline + increase / 2;
  const auto start = std::chrono::steady_clock::now();
  size_t resident = ResidentBytes();
  printf("right after free: %zu MiB\n", resident >> 20);
  // Light activity: a few allocations every 20 ms, as a program that goes on running.
  while (resident > target && std::chrono::steady_clock::now() - start < kDecayDeadline) {
    timespec pause{0, 20'000'000};
    nanosleep(&pause, nullptr);
    for (int i = 0; i < 8; ++i) {
      void* block = malloc(static_cast<size_t>(i) * 100 + 8);
      tally_test::Escape(block);
      free(block);
    }
    resident = ResidentBytes();
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  printf("RSS %zu MiB after %lld ms (baseline %zu MiB, peak %zu MiB)\n", resident >> 20,
         static_cast<long long>(elapsed.count()), baseline >> 20, peak >> 20);
  EXPECT_LE(resident, target) << "RSS did not fall by half of the " << increase / kMiB
                              << " MiB increase within " << kDecayDeadline.count() << " ms";
}

}  // namespace
