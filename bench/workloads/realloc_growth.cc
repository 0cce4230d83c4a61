// realloc_growth: strings and vectors grown by realloc from 1 byte to several MiB.
//
// Each thread repeatedly builds a few buffers side by side (so that none of them can simply
// grow into free space behind it), each from 1 byte up to a random final size of
// 256 KiB .. 4 MiB. A buffer grows either like a string being appended to (realloc to the
// exact new length after every append: of 1..160 bytes while it is below 64 KiB, of up to
// 1/16 of its length above) or like a vector (capacity times 1.5). The bytes appended are written with a position-dependent pattern; after every
// realloc the boundary bytes are checked, and the whole buffer is checked before it is
// freed, so a realloc that loses or corrupts data is caught.
//
// usage: realloc_growth [threads] [scale]
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "realloc_growth";
constexpr int kBuffers = 3;              // grown side by side
constexpr uint64_t kGenerations = 50;    // per thread (scaled)
// Below this length a string grows by short appends (1..160 bytes) with a realloc to the
// exact length after each; above it by appends of up to 1/16 of its length, as a buffer
// filled by read() calls would.
constexpr size_t kSmallAppendLimit = 64 << 10;

inline unsigned char byte_at(size_t index, uint64_t tag) {
  uint64_t x = (static_cast<uint64_t>(index) >> 3) * 0x9E3779B97F4A7C15ull ^ tag;
  return static_cast<unsigned char>((x >> 32) + index);
}

struct Buffer {
  unsigned char* data = nullptr;
  size_t length = 0;    // bytes written
  size_t capacity = 0;  // bytes allocated
  size_t target = 0;
  bool vector_like = false;
  uint64_t tag = 0;
};

void check_byte(const Buffer& b, size_t index) {
  if (b.data[index] != byte_at(index, b.tag))
    bench::fail(kName, "byte %zu of a %zu-byte buffer lost in realloc", index, b.length);
}

// Appends `count` bytes, growing the block as a string or a vector would.
void append(Buffer& b, size_t count, uint64_t* reallocs) {
  size_t needed = b.length + count;
  if (needed > b.capacity) {
    size_t capacity = needed;
    if (b.vector_like) {
      capacity = b.capacity < 16 ? 16 : b.capacity + b.capacity / 2;
      if (capacity < needed) capacity = needed;
    }
    void* grown = std::realloc(b.data, capacity);
    bench::checked(grown, kName, capacity);
    b.data = static_cast<unsigned char*>(grown);
    b.capacity = capacity;
    ++*reallocs;
    if (b.length > 0) {
      check_byte(b, 0);
      check_byte(b, b.length / 2);
      check_byte(b, b.length - 1);
    }
  }
  for (size_t i = b.length; i < needed; ++i) b.data[i] = byte_at(i, b.tag);
  b.length = needed;
}

void grow(uint64_t seed, uint64_t generations, uint64_t* reallocs) {
  bench::Rng rng(seed);
  for (uint64_t g = 0; g < generations; ++g) {
    Buffer buffers[kBuffers];
    for (auto& b : buffers) {
      b.target = rng.log_range(256 << 10, 4 << 20);
      b.vector_like = rng.percent(30);
      b.tag = rng.next();
    }
    bool growing = true;
    while (growing) {
      growing = false;
      for (auto& b : buffers) {
        if (b.length >= b.target) continue;
        growing = true;
        size_t count;
        if (b.length == 0)
          count = 1;  // every buffer starts at one byte
        else if (b.length < kSmallAppendLimit)
          count = rng.percent(90) ? rng.range(1, 48) : rng.range(49, 160);
        else
          count = rng.range(1, b.length / 16);  // ~3% per step on average
        append(b, count, reallocs);
      }
    }
    for (auto& b : buffers) {
      for (size_t i = 0; i < b.length; ++i) check_byte(b, i);
      std::free(b.data);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t generations = bench::scaled(kGenerations, args.scale, 1);
  auto start = std::chrono::steady_clock::now();

  std::vector<uint64_t> reallocs(static_cast<size_t>(args.threads), 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < args.threads; ++t)
    workers.emplace_back(grow, 0x9e11 + static_cast<uint64_t>(t), generations,
                         &reallocs[static_cast<size_t>(t)]);
  for (auto& w : workers) w.join();

  uint64_t total = 0;
  for (uint64_t r : reallocs) total += r;
  std::printf("%s: threads=%d generations=%llu reallocs=%llu time=%.3fs\n", kName, args.threads,
              static_cast<unsigned long long>(generations), static_cast<unsigned long long>(total),
              bench::seconds_since(start));
  return 0;
}
