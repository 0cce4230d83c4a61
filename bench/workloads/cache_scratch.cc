// cache_scratch: passive false sharing, in the shape of Hoard's cache-scratch.
//
// The main thread allocates one small object per worker, back to back, so that they
// probably share cache lines, and hands one to each worker. Each worker frees the object it
// was given, then repeatedly allocates an object of the same size, writes and reads every
// byte of it many times, and frees it. An allocator that gives a worker back the block it
// just freed (the main thread's, next to another worker's) makes the workers fight over a
// cache line for the whole run; one that serves each thread from its own memory does not.
//
// usage: cache_scratch [threads] [scale]
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "cache_scratch";
constexpr size_t kObjectSize = 8;
constexpr uint64_t kObjectsPerThread = 4000;  // scaled
constexpr uint64_t kWritesPerByte = 24000;

void hammer(char* object, uint64_t writes) {
  volatile char* bytes = object;
  for (uint64_t j = 0; j < writes; ++j) {
    for (size_t k = 0; k < kObjectSize; ++k) {
      char value = static_cast<char>(j + k);
      bytes[k] = value;
      if (bytes[k] != value) bench::fail(kName, "byte %zu of %p changed under us", k, object);
    }
  }
}

void worker(char* given, uint64_t objects, uint64_t writes) {
  std::free(given);
  for (uint64_t i = 0; i < objects; ++i) {
    char* object = static_cast<char*>(bench::checked(std::malloc(kObjectSize), kName, kObjectSize));
    hammer(object, writes);
    std::free(object);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t objects = bench::scaled(kObjectsPerThread, args.scale, 10);
  auto start = std::chrono::steady_clock::now();

  std::vector<char*> given(static_cast<size_t>(args.threads));
  for (auto& object : given) {
    object = static_cast<char*>(bench::checked(std::malloc(kObjectSize), kName, kObjectSize));
    std::memset(object, 0x5a, kObjectSize);
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < args.threads; ++t)
    workers.emplace_back(worker, given[static_cast<size_t>(t)], objects, kWritesPerByte);
  for (auto& w : workers) w.join();

  std::printf("%s: threads=%d objects=%llu writes_per_byte=%llu time=%.3fs\n", kName,
              args.threads, static_cast<unsigned long long>(objects),
              static_cast<unsigned long long>(kWritesPerByte), bench::seconds_since(start));
  return 0;
}
