// sparse_buffers: buffers sized for the worst case and used at their start.
//
// Each thread keeps 5,000 slots of buffers of 8..128 KiB (uniform) and replaces a random
// one at every step: the old one's first 64 bytes are checked and it is freed, a new one
// is allocated and only its first 64 bytes are written, as a read buffer or a reserve that
// is rarely filled. What the program touches is a page per buffer; an allocator that makes
// more of each buffer resident (huge pages, fills) shows here in peak RSS and time.
//
// usage: sparse_buffers [threads] [scale]
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "sparse_buffers";
constexpr size_t kSlots = 5000;
constexpr uint64_t kStepsPerThread = 100000;  // scaled
constexpr size_t kUsedBytes = 64;

struct Buffer {
  void* data = nullptr;
  uint64_t tag = 0;
};

void replace(bench::Rng& rng, std::vector<Buffer>& slots, uint64_t* bytes) {
  Buffer& b = slots[rng.below(kSlots)];
  if (b.data != nullptr) {
    bench::check(kName, b.data, kUsedBytes, b.tag);
    std::free(b.data);
  }
  size_t size = rng.range(8 << 10, 128 << 10);
  b.tag = rng.next();
  b.data = bench::checked(std::malloc(size), kName, size);
  bench::fill(b.data, kUsedBytes, b.tag);
  *bytes += size;
}

void churn(uint64_t seed, uint64_t steps, uint64_t* bytes_allocated) {
  bench::Rng rng(seed);
  std::vector<Buffer> slots(kSlots);
  uint64_t total = 0;
  for (uint64_t step = 0; step < steps; ++step) replace(rng, slots, &total);
  for (Buffer& b : slots) {
    if (b.data == nullptr) continue;
    bench::check(kName, b.data, kUsedBytes, b.tag);
    std::free(b.data);
  }
  *bytes_allocated = total;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t steps = bench::scaled(kStepsPerThread, args.scale, 100);
  auto start = std::chrono::steady_clock::now();

  uint64_t total =
      bench::run_workers(args.threads, 0x5a55e,
                         [steps](uint64_t seed, uint64_t* bytes) { churn(seed, steps, bytes); });
  std::printf("%s: threads=%d steps=%llu allocated_mib=%llu time=%.3fs\n", kName, args.threads,
              static_cast<unsigned long long>(steps), static_cast<unsigned long long>(total >> 20),
              bench::seconds_since(start));
  return 0;
}
