// bursty_threads: many threads that each allocate in a burst, then wait.
//
// `threads` × 250 threads start together; each makes 50 rounds of 64 blocks of 16..512
// bytes (filled, checked, freed), then waits until all are done, as the workers of a
// server wait for their next request. On two cores they run one after the other, so a
// thread's own frees must come back to it during its burst: an allocator that holds them
// for everyone's frees (a global quarantine) touches fresh memory for the whole burst,
// which shows in peak RSS and time.
//
// usage: bursty_threads [threads] [scale]
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "bursty_threads";
constexpr int kThreadsPerUnit = 250;
constexpr uint64_t kRounds = 50;  // scaled
constexpr size_t kBlocksPerRound = 64;

void burst(uint64_t seed, uint64_t rounds, std::atomic<int>* finished, int everyone) {
  bench::Rng rng(seed);
  void* blocks[kBlocksPerRound];
  size_t sizes[kBlocksPerRound];
  uint64_t tags[kBlocksPerRound];
  for (uint64_t round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < kBlocksPerRound; ++i) {
      sizes[i] = rng.range(16, 512);
      tags[i] = rng.next();
      blocks[i] = bench::checked(std::malloc(sizes[i]), kName, sizes[i]);
      bench::fill(blocks[i], sizes[i], tags[i]);
    }
    for (size_t i = 0; i < kBlocksPerRound; ++i) {
      bench::check(kName, blocks[i], sizes[i], tags[i]);
      std::free(blocks[i]);
    }
  }
  finished->fetch_add(1);
  while (finished->load() < everyone) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t rounds = bench::scaled(kRounds, args.scale, 2);
  const int everyone = args.threads * kThreadsPerUnit;
  auto start = std::chrono::steady_clock::now();

  std::atomic<int> finished{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < everyone; ++t)
    workers.emplace_back(burst, 0xb0257 + static_cast<uint64_t>(t), rounds, &finished, everyone);
  for (auto& w : workers) w.join();

  std::printf("%s: threads=%d rounds=%llu time=%.3fs\n", kName, everyone,
              static_cast<unsigned long long>(rounds), bench::seconds_since(start));
  return 0;
}
