// xmalloc_test: producer/consumer, in the shape of the classic xmalloc-test.
//
// `threads` producer threads allocate blocks of random sizes (8..512 bytes, skewed to the
// small end), fill them and push them in batches of 128 through a bounded shared queue;
// `threads` consumer threads pop the batches, check every block and free it. Nearly every
// free is therefore a free of a block allocated by another thread. The batch records are
// heap blocks too, allocated by the producer and freed by the consumer.
//
// usage: xmalloc_test [threads] [scale]     (runs 2 * threads threads)
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "xmalloc_test";
constexpr size_t kBatchSize = 128;
constexpr uint64_t kBatchesPerProducer = 36000;  // scaled
constexpr size_t kQueueCapacity = 256;           // batches in flight, bounds the live set

struct Batch {
  void* blocks[kBatchSize];
  uint32_t sizes[kBatchSize];
  uint64_t tags[kBatchSize];
};

class BatchQueue {
 public:
  void push(Batch* batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < kQueueCapacity; });
    queue_.push_back(batch);
    not_empty_.notify_one();
  }
  Batch* pop() {  // nullptr means: no more work
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    Batch* batch = queue_.front();
    queue_.pop_front();
    not_full_.notify_one();
    return batch;
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Batch*> queue_;
};

size_t block_size(bench::Rng& rng) {
  // Three quarters 8..64 bytes, the rest up to 512.
  return rng.percent(75) ? rng.range(8, 64) : rng.range(65, 512);
}

void produce(BatchQueue* queue, uint64_t seed, uint64_t batches) {
  bench::Rng rng(seed);
  for (uint64_t b = 0; b < batches; ++b) {
    Batch* batch = static_cast<Batch*>(bench::checked(std::malloc(sizeof(Batch)), kName, 1));
    for (size_t i = 0; i < kBatchSize; ++i) {
      size_t size = block_size(rng);
      void* block = bench::checked(std::malloc(size), kName, size);
      uint64_t tag = rng.next();
      bench::fill(block, size, tag);
      batch->blocks[i] = block;
      batch->sizes[i] = static_cast<uint32_t>(size);
      batch->tags[i] = tag;
    }
    queue->push(batch);
  }
}

void consume(BatchQueue* queue, uint64_t* freed) {
  uint64_t count = 0;
  while (Batch* batch = queue->pop()) {
    for (size_t i = 0; i < kBatchSize; ++i) {
      bench::check(kName, batch->blocks[i], batch->sizes[i], batch->tags[i]);
      std::free(batch->blocks[i]);
    }
    count += kBatchSize;
    std::free(batch);
  }
  *freed = count;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const int threads = args.threads;
  const uint64_t batches = bench::scaled(kBatchesPerProducer, args.scale, 10);
  auto start = std::chrono::steady_clock::now();

  BatchQueue queue;
  std::vector<uint64_t> freed(static_cast<size_t>(threads), 0);
  std::vector<std::thread> consumers, producers;
  for (int t = 0; t < threads; ++t) consumers.emplace_back(consume, &queue, &freed[static_cast<size_t>(t)]);
  for (int t = 0; t < threads; ++t)
    producers.emplace_back(produce, &queue, 7919u * static_cast<uint64_t>(t + 1), batches);
  for (auto& producer : producers) producer.join();
  for (int t = 0; t < threads; ++t) queue.push(nullptr);
  for (auto& consumer : consumers) consumer.join();

  uint64_t total = 0;
  for (uint64_t count : freed) total += count;
  uint64_t expected = batches * kBatchSize * static_cast<uint64_t>(threads);
  if (total != expected)
    bench::fail(kName, "freed %llu blocks, expected %llu", static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(expected));
  std::printf("%s: threads=%d+%d blocks=%llu time=%.3fs\n", kName, threads, threads,
              static_cast<unsigned long long>(total), bench::seconds_since(start));
  return 0;
}
