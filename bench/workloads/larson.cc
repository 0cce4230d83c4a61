// larson: a server simulation in the shape of Larson & Krishnan's benchmark.
//
// Every worker owns a slot array of live objects of random sizes (16..1024 bytes). It
// repeatedly picks a random slot, checks and frees the object there and allocates a new one
// of a random size. Work proceeds in rounds; at the end of a round every worker thread
// exits and the slot arrays are handed to freshly created threads, rotated so that array i
// goes to the thread of chain i+1. Objects are therefore freed by a thread other than the
// one that allocated them, often after that thread has exited.
//
// usage: larson [threads] [scale]
#include <algorithm>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "larson";
constexpr size_t kMinSize = 16;
constexpr size_t kMaxSize = 1024;
constexpr size_t kSlots = 4000;         // live objects per array
constexpr uint64_t kRounds = 60;        // thread generations (scaled)
constexpr uint64_t kOpsPerRound = 80000;  // free+malloc pairs per thread per round

struct Slot {
  void* block;
  size_t size;
  uint64_t tag;
};

void run_round(Slot* slots, uint64_t seed, uint64_t operations) {
  bench::Rng rng(seed);
  for (uint64_t op = 0; op < operations; ++op) {
    Slot& slot = slots[rng.below(kSlots)];
    bench::check(kName, slot.block, slot.size, slot.tag);
    std::free(slot.block);
    size_t size = rng.range(kMinSize, kMaxSize);
    void* block = bench::checked(std::malloc(size), kName, size);
    uint64_t tag = rng.next();
    bench::fill(block, size, tag);
    slot = Slot{block, size, tag};
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const int threads = args.threads;
  const uint64_t rounds = bench::scaled(kRounds, args.scale, 2);
  const uint64_t operations = bench::scaled(kOpsPerRound, std::min(args.scale, 1.0), 1000);
  auto start = std::chrono::steady_clock::now();

  // The slot arrays themselves are heap blocks that travel between threads too.
  std::vector<Slot*> arrays(static_cast<size_t>(threads));
  bench::Rng setup(42);
  for (auto& array : arrays) {
    array = static_cast<Slot*>(bench::checked(std::malloc(kSlots * sizeof(Slot)), kName, 1));
    for (size_t i = 0; i < kSlots; ++i) {
      size_t size = setup.range(kMinSize, kMaxSize);
      void* block = bench::checked(std::malloc(size), kName, size);
      uint64_t tag = setup.next();
      bench::fill(block, size, tag);
      array[i] = Slot{block, size, tag};
    }
  }

  for (uint64_t round = 0; round < rounds; ++round) {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      Slot* array = arrays[static_cast<size_t>((t + round) % static_cast<uint64_t>(threads))];
      uint64_t seed = round * 1000003u + static_cast<uint64_t>(t);
      workers.emplace_back(run_round, array, seed, operations);
    }
    for (auto& worker : workers) worker.join();
  }

  uint64_t live_bytes = 0;
  for (Slot* array : arrays) {
    for (size_t i = 0; i < kSlots; ++i) {
      bench::check(kName, array[i].block, array[i].size, array[i].tag);
      live_bytes += array[i].size;
      std::free(array[i].block);
    }
    std::free(array);
  }
  std::printf("%s: threads=%d rounds=%llu ops=%llu live_bytes_at_end=%llu time=%.3fs\n", kName,
              threads, static_cast<unsigned long long>(rounds),
              static_cast<unsigned long long>(rounds * operations * static_cast<uint64_t>(threads)),
              static_cast<unsigned long long>(live_bytes), bench::seconds_since(start));
  return 0;
}
