// alloc_test: many small, short-lived objects with random sizes and lifetimes.
//
// Each thread runs a discrete-time simulation: at every step it allocates one object of a
// random size (mostly 16..256 bytes, sometimes up to 4 KiB) with a random lifetime (mostly
// a few steps, sometimes up to ~4000), and frees every object whose lifetime ended at this
// step. Expiring objects are kept on a timing wheel linked through the objects themselves,
// so the harness allocates nothing of its own. Half of the objects come from malloc/free,
// half from C++ operator new/delete, as in a mixed C/C++ program. Threads are independent.
//
// usage: alloc_test [threads] [scale]
#include <new>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

const char* const kName = "alloc_test";
constexpr uint64_t kStepsPerThread = 4000000;  // scaled
constexpr size_t kWheel = 4096;                // lifetimes are < kWheel steps

struct Header {  // at the start of every object; the pattern fills the rest
  Header* next;
  uint32_t size;
  uint32_t from_new;
  uint64_t tag;
};

size_t object_size(bench::Rng& rng) {
  if (rng.percent(90)) return rng.range(sizeof(Header), 256);
  return rng.range(257, 4096);
}

size_t lifetime(bench::Rng& rng) {
  unsigned kind = static_cast<unsigned>(rng.below(100));
  if (kind < 70) return 1 + rng.below(8);     // temporaries
  if (kind < 95) return 1 + rng.below(128);   // short-lived
  return 1 + rng.below(kWheel - 1);           // long-lived
}

void release(Header* object) {
  bench::check(kName, object + 1, object->size - sizeof(Header), object->tag);
  if (object->from_new)
    ::operator delete(object);
  else
    std::free(object);
}

void simulate(uint64_t seed, uint64_t steps, uint64_t* allocated_bytes) {
  bench::Rng rng(seed);
  std::vector<Header*> wheel(kWheel, nullptr);
  uint64_t bytes = 0;
  for (uint64_t step = 0; step < steps; ++step) {
    Header*& due = wheel[step % kWheel];
    Header* object = due;
    due = nullptr;
    while (object != nullptr) {
      Header* next = object->next;
      release(object);
      object = next;
    }
    // One or two new objects per step, so the live set grows to a few thousand objects.
    int count = rng.percent(50) ? 1 : 2;
    for (int i = 0; i < count; ++i) {
      size_t size = object_size(rng);
      bool from_new = rng.percent(50);
      void* block = from_new ? ::operator new(size) : bench::checked(std::malloc(size), kName, size);
      Header* header = static_cast<Header*>(block);
      header->size = static_cast<uint32_t>(size);
      header->from_new = from_new ? 1 : 0;
      header->tag = rng.next();
      bench::fill(header + 1, size - sizeof(Header), header->tag);
      Header*& slot = wheel[(step + lifetime(rng)) % kWheel];
      header->next = slot;
      slot = header;
      bytes += size;
    }
  }
  for (Header* object : wheel) {
    while (object != nullptr) {
      Header* next = object->next;
      release(object);
      object = next;
    }
  }
  *allocated_bytes = bytes;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, kName);
  const uint64_t steps = bench::scaled(kStepsPerThread, args.scale, 10000);
  auto start = std::chrono::steady_clock::now();

  std::vector<uint64_t> bytes(static_cast<size_t>(args.threads), 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < args.threads; ++t)
    workers.emplace_back(simulate, 0xa110c + static_cast<uint64_t>(t), steps,
                         &bytes[static_cast<size_t>(t)]);
  for (auto& w : workers) w.join();

  uint64_t total = 0;
  for (uint64_t b : bytes) total += b;
  std::printf("%s: threads=%d steps=%llu allocated_bytes=%llu time=%.3fs\n", kName, args.threads,
              static_cast<unsigned long long>(steps), static_cast<unsigned long long>(total),
              bench::seconds_since(start));
  return 0;
}
