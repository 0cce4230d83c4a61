// fork() from a multi-threaded process: three threads keep allocating and freeing while the
// main thread forks 50 times. Each child checks and frees blocks it inherited (some made by
// threads that do not exist in the child), allocates and frees a lot, also from a thread it
// creates, and exits 0 with _exit. A child that deadlocks is killed by its alarm (or by the
// parent's deadline) and fails the test.
#include <gtest/gtest.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::CheckPattern;
using tally_test::FillPattern;
using tally_test::Rng;

constexpr int kForks = 50;
constexpr int kWorkers = 3;
constexpr int kInheritedPerThread = 32;
constexpr unsigned kChildAlarmSeconds = 20;
constexpr int kParentDeadlineSeconds = 40;

enum ChildStatus {
  kChildOk = 0,
  kInheritedCorrupt = 1,
  kAllocationFailed = 2,
  kOwnCorrupt = 3,
  kThreadFailed = 4,
};

const char* Describe(int status) {
  switch (status) {
    case kInheritedCorrupt:
      return "an inherited block was corrupt";
    case kAllocationFailed:
      return "an allocation failed";
    case kOwnCorrupt:
      return "a block was corrupted in the child";
    case kThreadFailed:
      return "the child could not run a thread";
    default:
      return "unknown";
  }
}

struct Block {
  void* pointer = nullptr;
  size_t size = 0;
  uint64_t salt = 0;
};

size_t RandomSize(Rng& rng) {
  unsigned bucket = static_cast<unsigned>(rng.Next() % 1000);
  if (bucket < 700) return rng.Range(1, 256);
  if (bucket < 950) return rng.Range(257, 4096);
  if (bucket < 995) return rng.Range(4097, 65536);
  return rng.Range(65537, size_t{1} << 20);
}

// Random allocate/check/free over a slot table; returns a ChildStatus.
int Churn(Rng& rng, Block* slots, int slot_count, int operations, uint64_t salt_base) {
  for (int op = 0; op < operations; ++op) {
    Block& slot = slots[rng.Next() % static_cast<uint64_t>(slot_count)];
    if (slot.pointer != nullptr) {
      if (!CheckPattern(slot.pointer, slot.size, slot.salt)) return kOwnCorrupt;
      free(slot.pointer);
      slot.pointer = nullptr;
    } else {
      slot.size = RandomSize(rng);
      slot.salt = salt_base + static_cast<uint64_t>(op);
      slot.pointer = rng.Percent(10) ? calloc(1, slot.size) : malloc(slot.size);
      if (slot.pointer == nullptr) return kAllocationFailed;
      FillPattern(slot.pointer, slot.size, slot.salt);
    }
  }
  return kChildOk;
}

int FreeSlots(Block* slots, int slot_count) {
  int status = kChildOk;
  for (int i = 0; i < slot_count; ++i) {
    if (slots[i].pointer == nullptr) continue;
    if (!CheckPattern(slots[i].pointer, slots[i].size, slots[i].salt)) status = kOwnCorrupt;
    free(slots[i].pointer);
    slots[i].pointer = nullptr;
  }
  return status;
}

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<size_t> operations{0};
  std::atomic<int> worker_status{kChildOk};
  Block inherited[kWorkers + 1][kInheritedPerThread];
};

void Worker(Shared& shared, int id) {
  Rng rng(static_cast<uint64_t>(id) + 11);
  // Blocks that forked children inherit and free although this thread is not there.
  for (Block& block : shared.inherited[id]) {
    block.size = RandomSize(rng);
    block.salt = 0xF0F0 + static_cast<uint64_t>(id);
    block.pointer = malloc(block.size);
    if (block.pointer != nullptr) FillPattern(block.pointer, block.size, block.salt);
  }
  shared.ready.fetch_add(1);
  Block slots[128];
  uint64_t round = 0;
  while (!shared.stop.load(std::memory_order_relaxed)) {
    int status = Churn(rng, slots, 128, 1000, (static_cast<uint64_t>(id) << 40) + round * 1000);
    ++round;
    shared.operations.fetch_add(1000, std::memory_order_relaxed);
    // Short breaks keep the three workers from starving the children of the two cores.
    timespec pause{0, 200'000};
    nanosleep(&pause, nullptr);
    if (status != kChildOk) {
      shared.worker_status.store(status);
      break;
    }
  }
  int status = FreeSlots(slots, 128);
  if (status != kChildOk) shared.worker_status.store(status);
}

// Runs in the child; returns its exit status.
int Child(Shared& shared, int number) {
  alarm(kChildAlarmSeconds);  // a deadlock kills the child with SIGALRM
  // The inherited blocks are intact and freeable here.
  for (auto& row : shared.inherited) {
    for (Block& block : row) {
      if (block.pointer == nullptr) return kAllocationFailed;
      if (!CheckPattern(block.pointer, block.size, block.salt)) return kInheritedCorrupt;
      free(block.pointer);
    }
  }
  Rng rng(static_cast<uint64_t>(number) + 1000);
  Block slots[256];
  int status = Churn(rng, slots, 256, 10000, 1);
  if (status != kChildOk) return status;
  // A new thread in the child allocates too, and frees blocks the child's main thread made.
  int thread_status = kThreadFailed;
  try {
    std::thread thread([&] {
      Rng thread_rng(static_cast<uint64_t>(number) + 5000);
      thread_status = Churn(thread_rng, slots, 256, 10000, 1 << 20);
    });
    thread.join();
  } catch (...) {
    return kThreadFailed;
  }
  if (thread_status != kChildOk) return thread_status;
  return FreeSlots(slots, 256);
}

TEST(StressFork, ForkWhileOtherThreadsAllocate) {
  Shared shared;
  // The main thread's own inherited blocks.
  Rng rng(99);
  for (Block& block : shared.inherited[kWorkers]) {
    block.size = RandomSize(rng);
    block.salt = 0xABC;
    block.pointer = malloc(block.size);
    ASSERT_NE(block.pointer, nullptr);
    FillPattern(block.pointer, block.size, block.salt);
  }
  std::vector<std::thread> workers;
  for (int id = 0; id < kWorkers; ++id) workers.emplace_back(Worker, std::ref(shared), id);
  while (shared.ready.load() < kWorkers) std::this_thread::yield();

  std::vector<std::string> problems;
  for (int number = 0; number < kForks; ++number) {
    // Let the workers get going between forks, so forks land at random points.
    timespec pause{0, 2'000'000};
    nanosleep(&pause, nullptr);
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
      problems.push_back("fork failed: " + std::string(strerror(errno)));
      break;
    }
    if (child == 0) _exit(Child(shared, number));

    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kParentDeadlineSeconds);
    int status = 0;
    pid_t waited = 0;
    for (;;) {
      waited = waitpid(child, &status, WNOHANG);
      if (waited != 0) break;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        problems.push_back("child " + std::to_string(number) + " hung (killed after " +
                           std::to_string(kParentDeadlineSeconds) + " s)");
        waited = -2;
        break;
      }
      timespec tick{0, 1'000'000};
      nanosleep(&tick, nullptr);
    }
    if (waited == -2) continue;
    if (waited != child) {
      problems.push_back("waitpid failed for child " + std::to_string(number));
    } else if (WIFSIGNALED(status)) {
      int signal = WTERMSIG(status);
      problems.push_back("child " + std::to_string(number) + " killed by signal " +
                         std::to_string(signal) + " (" + strsignal(signal) + ")" +
                         (signal == SIGALRM ? ": deadlock after fork" : ""));
    } else if (WEXITSTATUS(status) != 0) {
      problems.push_back("child " + std::to_string(number) + " exited " +
                         std::to_string(WEXITSTATUS(status)) + ": " +
                         Describe(WEXITSTATUS(status)));
    }
  }
  shared.stop.store(true);
  for (std::thread& worker : workers) worker.join();
  for (auto& row : shared.inherited) {
    for (Block& block : row) {
      if (block.pointer == nullptr) continue;
      EXPECT_TRUE(CheckPattern(block.pointer, block.size, block.salt));
      free(block.pointer);
    }
  }
  printf("%d forks; the parent's threads did %zu operations meanwhile\n", kForks,
         shared.operations.load());
  EXPECT_EQ(shared.worker_status.load(), kChildOk) << Describe(shared.worker_status.load());
  for (const std::string& problem : problems) ADD_FAILURE() << problem;
  EXPECT_TRUE(problems.empty());
}

}  // namespace
