// small_churn: the allocator's fast path, in two tight loops.
//
// Phase 1 ("pairs"): malloc and immediately free small blocks of a few fixed sizes
// (16, 32, 48, 64, 128 bytes), writing and reading back one word of each. This is the
// cost of one malloc/free round trip through a thread-local cache.
// Phase 2 ("batches"): allocate 1000 blocks of one size, write a word to each, then check
// and free all of them, in allocation order on even rounds and in reverse order on odd
// rounds; the size cycles through 16..256 bytes from round to round.
// Threads are independent.
//
// usage: small_churn [threads] [scale]
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "small_churn";
constexpr uint64_t kPairsPerThread = 20000000;  // scaled
constexpr uint64_t kBatchRounds = 12000;        // scaled
constexpr size_t kBatch = 1000;
constexpr size_t kPairSizes[] = {16, 32, 48, 64, 128, 32, 16, 64};

void churn(uint64_t pairs, uint64_t rounds, uint64_t* checksum) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < pairs; ++i) {
    size_t size = kPairSizes[i & 7];
    uint64_t* block = static_cast<uint64_t*>(bench::checked(std::malloc(size), kName, size));
    bench::escape(block);
    block[0] = i;
    bench::escape(block);
    if (block[0] != i) bench::fail(kName, "block %p lost its word", static_cast<void*>(block));
    sum += block[0];
    std::free(block);
  }

  std::vector<uint64_t*> batch(kBatch);
  for (uint64_t round = 0; round < rounds; ++round) {
    size_t size = 16 * (1 + round % 16);
    for (size_t i = 0; i < kBatch; ++i) {
      batch[i] = static_cast<uint64_t*>(bench::checked(std::malloc(size), kName, size));
      batch[i][0] = round * kBatch + i;
      batch[i][size / 8 - 1] = ~(round * kBatch + i);
    }
    bool reverse = (round & 1) != 0;
    for (size_t k = 0; k < kBatch; ++k) {
      size_t i = reverse ? kBatch - 1 - k : k;
      uint64_t* block = batch[i];
      if (block[0] != round * kBatch + i || block[size / 8 - 1] != ~(round * kBatch + i))
        bench::fail(kName, "batch block %p (%zu bytes) was overwritten", static_cast<void*>(block), size);
      sum += block[0];
      std::free(block);
    }
  }
  *checksum = sum;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t pairs = bench::scaled(kPairsPerThread, args.scale, 1000);
  const uint64_t rounds = bench::scaled(kBatchRounds, args.scale, 10);
  auto start = std::chrono::steady_clock::now();

  std::vector<uint64_t> sums(static_cast<size_t>(args.threads), 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < args.threads; ++t)
    workers.emplace_back(churn, pairs, rounds, &sums[static_cast<size_t>(t)]);
  for (auto& w : workers) w.join();

  uint64_t total = 0;
  for (uint64_t s : sums) total += s;
  std::printf("%s: threads=%d pairs=%llu batch_rounds=%llu checksum=%llx time=%.3fs\n", kName,
              args.threads, static_cast<unsigned long long>(pairs),
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(total),
              bench::seconds_since(start));
  return 0;
}
