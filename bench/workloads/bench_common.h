// Shared helpers for tally's benchmark workloads: argument parsing, a deterministic random
// number generator, and the fill/check pattern that makes every workload notice an
// allocator that hands out overlapping, too-small or corrupted blocks.
//
// Every workload is run as `<workload> [threads] [scale]`: threads (default 1) is the
// number of worker threads, scale (default 1.0) multiplies the iteration counts. Exit
// status: 0 on success, 2 on bad arguments, 3 when a pattern check fails or an allocation
// returns NULL.
#ifndef TALLY_BENCH_COMMON_H
#define TALLY_BENCH_COMMON_H

#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#include <unistd.h>

namespace bench {

// ---- Arguments ---------------------------------------------------------------------------

struct Args {
  int threads = 1;
  double scale = 1.0;
};

inline Args parse_args(int argc, char** argv, const char* name) {
  Args args;
  if (argc > 3 || (argc > 1 && (std::strcmp(argv[1], "-h") == 0 ||
                                std::strcmp(argv[1], "--help") == 0))) {
    std::fprintf(stderr, "usage: %s [threads=1] [scale=1.0]\n", name);
    std::exit(2);
  }
  if (argc > 1) {
    char* end = nullptr;
    long threads = std::strtol(argv[1], &end, 10);
    if (*end != '\0' || threads < 1 || threads > 256) {
      std::fprintf(stderr, "%s: bad thread count '%s'\n", name, argv[1]);
      std::exit(2);
    }
    args.threads = static_cast<int>(threads);
  }
  if (argc > 2) {
    char* end = nullptr;
    double scale = std::strtod(argv[2], &end);
    if (*end != '\0' || !(scale > 0.0) || scale > 1000.0) {
      std::fprintf(stderr, "%s: bad scale '%s'\n", name, argv[2]);
      std::exit(2);
    }
    args.scale = scale;
  }
  return args;
}

// base * scale, never less than `minimum`.
inline uint64_t scaled(uint64_t base, double scale, uint64_t minimum = 1) {
  double value = static_cast<double>(base) * scale;
  uint64_t result = value < 1.0 ? 0 : static_cast<uint64_t>(value);
  return result < minimum ? minimum : result;
}

// ---- Failure -----------------------------------------------------------------------------

[[noreturn]] inline void fail(const char* name, const char* format, ...) {
  char message[512];
  va_list list;
  va_start(list, format);
  std::vsnprintf(message, sizeof message, format, list);
  va_end(list);
  std::fprintf(stderr, "%s: FAILED: %s\n", name, message);
  std::fflush(stderr);
  std::fflush(stdout);
  _exit(3);  // other threads may still be running: leave without running destructors
}

inline void* checked(void* pointer, const char* name, size_t size) {
  if (pointer == nullptr && size != 0) fail(name, "allocation of %zu bytes returned NULL", size);
  return pointer;
}

// Keeps the compiler from proving that an allocation is unused and deleting the
// malloc/free pair (GCC and Clang both do that for plain malloc/free and new/delete).
inline void escape(void* pointer) { asm volatile("" : : "g"(pointer) : "memory"); }

// ---- Random numbers ----------------------------------------------------------------------

// xoshiro256** seeded through splitmix64: fast, and the same sequence on every run.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    uint64_t result = rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  // Uniform in [0, bound), bound > 0 (multiply-shift; the tiny bias does not matter here).
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
  // Uniform in [low, high].
  uint64_t range(uint64_t low, uint64_t high) { return low + below(high - low + 1); }
  // Log-uniform in [low, high]: as many blocks in 1-2 KiB as in 1-2 MiB.
  uint64_t log_range(uint64_t low, uint64_t high) {
    unsigned low_bits = 63u - static_cast<unsigned>(__builtin_clzll(low));
    unsigned high_bits = 63u - static_cast<unsigned>(__builtin_clzll(high));
    unsigned bits = low_bits + static_cast<unsigned>(below(high_bits - low_bits + 1));
    uint64_t base = 1ull << bits;
    uint64_t value = base + below(base);
    return value < low ? low : (value > high ? high : value);
  }
  // True with probability percent/100.
  bool percent(unsigned percent) { return below(100) < percent; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// ---- Fill and check ----------------------------------------------------------------------

// The pattern word for word index `index` of a block tagged `tag`.
inline uint64_t pattern_word(uint64_t tag, size_t index) {
  uint64_t x = tag ^ (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull);
  return x ^ (x >> 29);
}

// Which 8-byte words of a block of `size` bytes get touched: all of the first 256 bytes,
// one word per 4 KiB page after that, and the last 64 bytes. Small blocks are therefore
// written in full, large ones partially (as programs do with big buffers).
template <class Visit>
inline void for_each_touched_word(size_t size, Visit visit) {
  size_t words = size / 8;
  size_t head = words < 32 ? words : 32;
  for (size_t w = 0; w < head; ++w) visit(w);
  if (words > head) {
    size_t tail = words - 8 > head ? words - 8 : head;
    for (size_t w = 512; w < tail; w += 512) visit(w);
    for (size_t w = tail; w < words; ++w) visit(w);
  }
}

// Writes the pattern for `tag` into the touched words of the block, and into every byte
// of a trailing partial word.
inline void fill(void* block, size_t size, uint64_t tag) {
  unsigned char* bytes = static_cast<unsigned char*>(block);
  for_each_touched_word(size, [&](size_t w) {
    uint64_t value = pattern_word(tag, w);
    std::memcpy(bytes + w * 8, &value, 8);
  });
  for (size_t i = size & ~static_cast<size_t>(7); i < size; ++i)
    bytes[i] = static_cast<unsigned char>(tag >> (8 * (i & 7)));
}

// Returns true when the block still holds what fill() wrote.
inline bool holds(const void* block, size_t size, uint64_t tag) {
  const unsigned char* bytes = static_cast<const unsigned char*>(block);
  bool ok = true;
  for_each_touched_word(size, [&](size_t w) {
    uint64_t value;
    std::memcpy(&value, bytes + w * 8, 8);
    if (value != pattern_word(tag, w)) ok = false;
  });
  for (size_t i = size & ~static_cast<size_t>(7); i < size; ++i)
    if (bytes[i] != static_cast<unsigned char>(tag >> (8 * (i & 7)))) ok = false;
  return ok;
}

inline void check(const char* name, const void* block, size_t size, uint64_t tag) {
  if (!holds(block, size, tag))
    fail(name, "block %p of %zu bytes was overwritten (tag %016llx)", block, size,
         static_cast<unsigned long long>(tag));
}

// ---- Workers -------------------------------------------------------------------------------

// Runs work(seed_base + t, &result_t) on `threads` threads and returns the sum of the
// results (bytes allocated, for the summary line).
template <class Work>
inline uint64_t run_workers(int threads, uint64_t seed_base, Work work) {
  std::vector<uint64_t> results(static_cast<size_t>(threads), 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back(work, seed_base + static_cast<uint64_t>(t),
                         &results[static_cast<size_t>(t)]);
  for (auto& w : workers) w.join();
  uint64_t total = 0;
  for (uint64_t result : results) total += result;
  return total;
}

// ---- Timing ------------------------------------------------------------------------------

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace bench

#endif  // TALLY_BENCH_COMMON_H
