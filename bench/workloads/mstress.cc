// mstress: a stress test in the shape of mimalloc's `stress`.
//
// Each thread keeps a large live set (a slot array) of objects whose sizes range from
// 16 bytes to ~1 MiB, skewed heavily to the small end, and churns it: it allocates into
// random slots (freeing what was there), frees random slots, and swaps random slots with a
// global transfer array shared by all threads, so objects wander to other threads and are
// freed there. Work runs in rounds; each round starts fresh threads, which free their own
// live set when they end, while the transfer array (and its objects allocated by threads
// that have exited) carries over to the next round.
//
// usage: mstress [threads] [scale]
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "mstress";
constexpr size_t kSlots = 20000;          // live set per thread
constexpr size_t kTransfer = 1000;        // shared transfer slots
constexpr uint64_t kRounds = 10;          // thread generations (scaled)
constexpr uint64_t kOpsPerRound = 300000; // per thread per round

struct Header {  // at the start of every object; the pattern fills the rest
  uint64_t size;
  uint64_t tag;
};

std::atomic<Header*> transfer[kTransfer];

size_t object_size(bench::Rng& rng) {
  unsigned kind = static_cast<unsigned>(rng.below(1000));
  if (kind < 800) return rng.range(sizeof(Header), 128);  // 80%: tiny
  if (kind < 950) return rng.range(129, 4096);            // 15%: small
  if (kind < 995) return rng.log_range(4097, 64 << 10);   // 4.5%: medium
  return rng.log_range((64 << 10) + 1, 1 << 20);          // 0.5%: large
}

Header* make(bench::Rng& rng) {
  size_t size = object_size(rng);
  Header* object = static_cast<Header*>(bench::checked(std::malloc(size), kName, size));
  object->size = size;
  object->tag = rng.next();
  bench::fill(object + 1, size - sizeof(Header), object->tag);
  return object;
}

void release(Header* object) {
  if (object == nullptr) return;
  bench::check(kName, object + 1, object->size - sizeof(Header), object->tag);
  std::free(object);
}

void worker(uint64_t seed, uint64_t operations) {
  bench::Rng rng(seed);
  std::vector<Header*> live(kSlots, nullptr);
  for (size_t i = 0; i < kSlots / 2; ++i) live[i] = make(rng);
  for (uint64_t op = 0; op < operations; ++op) {
    Header*& slot = live[rng.below(kSlots)];
    unsigned kind = static_cast<unsigned>(rng.below(100));
    if (kind < 55) {  // replace
      release(slot);
      slot = make(rng);
    } else if (kind < 90) {  // free
      release(slot);
      slot = nullptr;
    } else {  // swap with the transfer array
      slot = transfer[rng.below(kTransfer)].exchange(slot, std::memory_order_acq_rel);
    }
  }
  for (Header* object : live) release(object);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t rounds = bench::scaled(kRounds, args.scale, 2);
  const uint64_t operations = bench::scaled(kOpsPerRound, std::min(args.scale, 1.0), 1000);
  auto start = std::chrono::steady_clock::now();

  for (uint64_t round = 0; round < rounds; ++round) {
    std::vector<std::thread> workers;
    for (int t = 0; t < args.threads; ++t)
      workers.emplace_back(worker, round * 7717u + static_cast<uint64_t>(t) + 1, operations);
    for (auto& w : workers) w.join();
  }
  size_t carried = 0;
  for (auto& slot : transfer) {
    Header* object = slot.exchange(nullptr);
    if (object != nullptr) ++carried;
    release(object);
  }
  std::printf("%s: threads=%d rounds=%llu ops=%llu transfer_left=%zu time=%.3fs\n", kName,
              args.threads, static_cast<unsigned long long>(rounds),
              static_cast<unsigned long long>(rounds * operations * static_cast<uint64_t>(args.threads)),
              carried, bench::seconds_since(start));
  return 0;
}
