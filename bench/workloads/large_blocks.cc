// large_blocks: big buffers, allocated, partly used and freed.
//
// Each thread keeps a ring of a few large blocks (256 KiB .. 32 MiB, log-uniform, so small
// "large" blocks are as common as huge ones). Every step replaces the oldest block: the old
// one is checked and freed, and a new one is allocated and touched partially (the first
// 256 bytes, one word per 4 KiB page, the last 64 bytes), as I/O buffers, images and
// arenas are. One block in four comes from calloc, and then words that were never written
// are checked to be zero, which catches an allocator that recycles dirty memory for calloc.
//
// usage: large_blocks [threads] [scale]
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "large_blocks";
constexpr size_t kRing = 4;
constexpr uint64_t kStepsPerThread = 400;  // scaled

struct Block {
  void* data = nullptr;
  size_t size = 0;
  uint64_t tag = 0;
};

void check_zeroed(const Block& b) {
  // Words the pattern does not touch: the middle of each page, and the end of the head.
  const unsigned char* bytes = static_cast<const unsigned char*>(b.data);
  for (size_t offset = 2048; offset + 8 <= b.size - 64; offset += 4096) {
    uint64_t value;
    std::memcpy(&value, bytes + offset, 8);
    if (value != 0)
      bench::fail(kName, "calloc block %p (%zu bytes) not zero at %zu", b.data, b.size, offset);
  }
}

void churn(uint64_t seed, uint64_t steps, uint64_t* bytes_allocated) {
  bench::Rng rng(seed);
  Block ring[kRing];
  uint64_t total = 0;
  for (uint64_t step = 0; step < steps; ++step) {
    Block& b = ring[step % kRing];
    if (b.data != nullptr) {
      bench::check(kName, b.data, b.size, b.tag);
      std::free(b.data);
    }
    b.size = rng.log_range(256 << 10, 32 << 20);
    b.tag = rng.next();
    if (rng.percent(25)) {
      b.data = bench::checked(std::calloc(1, b.size), kName, b.size);
      check_zeroed(b);
    } else {
      b.data = bench::checked(std::malloc(b.size), kName, b.size);
    }
    bench::fill(b.data, b.size, b.tag);
    total += b.size;
  }
  for (Block& b : ring) {
    if (b.data == nullptr) continue;
    bench::check(kName, b.data, b.size, b.tag);
    std::free(b.data);
  }
  *bytes_allocated = total;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t steps = bench::scaled(kStepsPerThread, args.scale, 8);
  auto start = std::chrono::steady_clock::now();

  uint64_t total =
      bench::run_workers(args.threads, 0x1a56e,
                         [steps](uint64_t seed, uint64_t* bytes) { churn(seed, steps, bytes); });
  std::printf("%s: threads=%d steps=%llu allocated_mib=%llu time=%.3fs\n", kName, args.threads,
              static_cast<unsigned long long>(steps), static_cast<unsigned long long>(total >> 20),
              bench::seconds_since(start));
  return 0;
}
