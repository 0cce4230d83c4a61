// Four threads allocate blocks of random sizes, fill them with a pattern derived from the
// block's address and size, and pass them through queues to the other threads, which check
// them, sometimes realloc them, and free them. Millions of operations; no corruption allowed.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::CheckPattern;
using tally_test::FillPattern;
using tally_test::Rng;

constexpr int kThreads = 4;
constexpr size_t kBatchSize = 64;
constexpr size_t kAllocationsPerThread = 4800 * kBatchSize;  // 307,200
constexpr size_t kInboxLimit = 20000;
constexpr size_t kKeptLocally = 256;

struct Item {
  void* block;
  size_t size;
  uint32_t producer;
};

struct Inbox {
  std::mutex mutex;
  std::vector<Item> items;
  std::atomic<size_t> count{0};
};

class ProducerConsumer {
 public:
  void Run() {
    std::vector<std::thread> threads;
    for (int id = 0; id < kThreads; ++id) threads.emplace_back([this, id] { Work(id); });
    for (std::thread& thread : threads) thread.join();
  }

  std::atomic<size_t> allocations{0};
  std::atomic<size_t> frees{0};
  std::atomic<size_t> reallocs{0};
  std::atomic<size_t> cross_thread_frees{0};
  std::atomic<size_t> failures{0};
  std::string first_failure;

 private:
  void Fail(const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(failure_mutex_);
      first_failure = what;
    }
  }

  static size_t RandomSize(Rng& rng) {
    unsigned bucket = static_cast<unsigned>(rng.Next() % 1000);
    if (bucket < 600) return rng.Range(1, 128);
    if (bucket < 850) return rng.Range(129, 1024);
    if (bucket < 950) return rng.Range(1025, 8192);
    if (bucket < 998) return rng.Range(8193, 65536);
    return rng.Range(65537, size_t{1} << 20);
  }

  void* Allocate(Rng& rng, size_t size, uint32_t producer) {
    unsigned kind = static_cast<unsigned>(rng.Next() % 100);
    void* block = nullptr;
    if (kind < 80) {
      block = malloc(size);
    } else if (kind < 90) {
      block = calloc(1, size);
      if (block != nullptr) {
        const unsigned char* bytes = static_cast<const unsigned char*>(block);
        size_t limit = std::min<size_t>(size, 4096);
        for (size_t i = 0; i < limit; ++i) {
          if (bytes[i] != 0) {
            Fail("calloc(" + std::to_string(size) + ") returned dirty memory");
            break;
          }
        }
      }
    } else if (kind < 95) {
      size_t alignment = size_t{16} << rng.Range(0, 8);
      if (posix_memalign(&block, alignment, size) != 0) block = nullptr;
      if (block != nullptr && !tally_test::IsAligned(block, alignment)) Fail("misaligned block");
    } else {
      block = aligned_alloc(64, size);
      if (block != nullptr && !tally_test::IsAligned(block, 64)) Fail("misaligned block");
    }
    if (block == nullptr) {
      Fail("allocation of " + std::to_string(size) + " bytes failed");
      return nullptr;
    }
    if (malloc_usable_size(block) < size) Fail("usable size below request");
    FillPattern(block, size, producer);
    allocations.fetch_add(1, std::memory_order_relaxed);
    return block;
  }

  void Consume(Rng& rng, const Item& item, int consumer) {
    if (!CheckPattern(item.block, item.size, item.producer)) {
      Fail("block of " + std::to_string(item.size) + " bytes from thread " +
           std::to_string(item.producer) + " corrupted before thread " + std::to_string(consumer) +
           " freed it");
    }
    void* block = item.block;
    if (item.size <= tally_test::kDenseLimit && rng.Percent(10)) {
      // Grow or shrink it first, on the consuming thread.
      size_t size = rng.Range(1, tally_test::kDenseLimit * 2);
      void* moved = realloc(block, size);
      if (moved == nullptr) {
        Fail("realloc failed");
      } else {
        block = moved;
        if (!tally_test::CheckMovedPattern(block, std::min(size, item.size), item.block, item.size,
                                           item.producer)) {
          Fail("realloc lost contents");
        }
        memset(block, 0x3C, size);
        reallocs.fetch_add(1, std::memory_order_relaxed);
      }
    }
    free(block);
    frees.fetch_add(1, std::memory_order_relaxed);
    if (item.producer != static_cast<uint32_t>(consumer)) {
      cross_thread_frees.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void Drain(Rng& rng, int id, std::vector<Item>& scratch) {
    Inbox& inbox = inboxes_[id];
    if (inbox.count.load(std::memory_order_relaxed) == 0) return;
    {
      std::lock_guard<std::mutex> lock(inbox.mutex);
      scratch.swap(inbox.items);
      inbox.count.store(0, std::memory_order_relaxed);
    }
    for (const Item& item : scratch) Consume(rng, item, id);
    in_flight_.fetch_sub(scratch.size());
    scratch.clear();
  }

  void Work(int id) {
    Rng rng(static_cast<uint64_t>(id) + 1);
    std::vector<Item> outgoing;
    std::vector<Item> scratch;
    std::deque<Item> kept;  // some blocks are freed by the thread that made them
    size_t produced = 0;
    bool done = false;
    for (;;) {
      if (produced < kAllocationsPerThread) {
        for (size_t i = 0; i < kBatchSize; ++i, ++produced) {
          size_t size = RandomSize(rng);
          void* block = Allocate(rng, size, static_cast<uint32_t>(id));
          if (block == nullptr) continue;
          Item item{block, size, static_cast<uint32_t>(id)};
          if (rng.Percent(10)) {
            kept.push_back(item);
            if (kept.size() > kKeptLocally) {
              Consume(rng, kept.front(), id);
              kept.pop_front();
            }
          } else {
            outgoing.push_back(item);
          }
        }
        int target = static_cast<int>((id + 1 + rng.Next() % (kThreads - 1)) % kThreads);
        Inbox& inbox = inboxes_[target];
        while (inbox.count.load(std::memory_order_relaxed) > kInboxLimit) {
          Drain(rng, id, scratch);  // back-pressure: help while the target catches up
          sched_yield();
        }
        in_flight_.fetch_add(outgoing.size());
        {
          std::lock_guard<std::mutex> lock(inbox.mutex);
          inbox.items.insert(inbox.items.end(), outgoing.begin(), outgoing.end());
          inbox.count.store(inbox.items.size(), std::memory_order_relaxed);
        }
        outgoing.clear();
      } else if (!done) {
        done = true;
        done_threads_.fetch_add(1);
      }
      Drain(rng, id, scratch);
      if (done) {
        if (done_threads_.load() == kThreads && in_flight_.load() == 0) break;
        sched_yield();
      }
    }
    for (const Item& item : kept) Consume(rng, item, id);
  }

  Inbox inboxes_[kThreads];
  std::atomic<size_t> in_flight_{0};
  std::atomic<int> done_threads_{0};
  std::mutex failure_mutex_;
};

TEST(StressProducerConsumer, BlocksPassedBetweenThreadsStayIntact) {
  const tally_stats before = tally_test::Stats();
  auto test = std::make_unique<ProducerConsumer>();
  test->Run();
  printf("%zu allocations, %zu frees (%zu by another thread), %zu reallocs\n",
         test->allocations.load(), test->frees.load(), test->cross_thread_frees.load(),
         test->reallocs.load());
  EXPECT_EQ(test->failures.load(), 0u) << "first failure: " << test->first_failure;
  EXPECT_EQ(test->allocations.load(), kThreads * kAllocationsPerThread);
  EXPECT_EQ(test->frees.load(), test->allocations.load());
  EXPECT_GT(test->cross_thread_frees.load(), test->frees.load() / 2);
  test.reset();  // the queues' own memory
  if (tally_test::TallyPresent()) {
    // Every block was freed: the live-byte count is back where it was (the threads and
    // queues are gone too; allow a little for lazily created runtime state).
    const tally_stats after = tally_test::Stats();
    EXPECT_LE(after.bytes_live, before.bytes_live + (size_t{1} << 20))
        << "bytes_live " << before.bytes_live << " -> " << after.bytes_live;
    EXPECT_EQ(after.bad_frees, before.bad_frees);
  }
}

}  // namespace
