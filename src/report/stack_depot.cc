// The stack depot. One mapping, reserved whole on first use and touched as it fills:
//
//   [header][bucket array: 32-bit ids of chain heads][nodes, bump-allocated, never freed]
//
// A node is {next id, hash, frame count, frames}; its id is its offset in the node area in
// 8-byte units, plus one, so ids stay small and need no table of their own. Readers walk a
// chain from the bucket head without locks: a node is complete before the release CAS that
// makes it a head, and the acquire load of a head synchronizes with every earlier CAS on
// that bucket (each is a read-modify-write continuing the release sequence). A writer that
// loses the CAS looks only at the nodes added since its search, so two threads putting the
// same stack at once both return one id. Node space is taken with a CAS on the used-bytes
// counter, which never overshoots the limit, and is given back when a racing writer turns
// out to have stored the same stack first and nobody has allocated after it.
#include "report/stack_depot.h"

#include <string.h>

#include <atomic>

#include "os/memory.h"

namespace tally {
namespace {

constexpr size_t kPageBytes = 4096;
constexpr size_t kMinLimit = size_t{64} << 10;
constexpr size_t kMaxLimit = size_t{16} << 30;  // ids count 8-byte units in 32 bits
constexpr size_t kHeaderBytes = 64;
constexpr size_t kMinBuckets = 256;
constexpr size_t kBytesPerBucketShare = 64;  // the bucket array is 1/64 of the limit

struct Node {
  std::atomic<uint32_t> next;  // id of the next node in the bucket, 0 at the end
  uint32_t hash;               // low bits of the stack's hash, compared before frames
  uint32_t count;              // frames that follow the node
  uint32_t reserved;
  uintptr_t* frames() { return reinterpret_cast<uintptr_t*>(this + 1); }
};
static_assert(sizeof(Node) == 16, "frames must start 8-byte aligned");

struct Depot {
  size_t mapping_bytes;
  uint64_t bucket_mask;
  uintptr_t nodes;       // start of the node area
  size_t node_capacity;  // bytes in the node area
  std::atomic<size_t> used;
  std::atomic<uint32_t>* buckets() {
    return reinterpret_cast<std::atomic<uint32_t>*>(reinterpret_cast<char*>(this) + kHeaderBytes);
  }
  Node* node(StackId id) {
    return reinterpret_cast<Node*>(nodes + (static_cast<uintptr_t>(id) - 1) * 8);
  }
};
static_assert(sizeof(Depot) <= kHeaderBytes, "the header must fit before the buckets");

constinit std::atomic<Depot*> g_depot{nullptr};
constinit std::atomic<size_t> g_limit{kStackDepotDefaultLimit};
constinit std::atomic<bool> g_map_failed{false};
constinit std::atomic<size_t> g_stacks{0};
constinit std::atomic<size_t> g_dropped{0};

inline uint64_t rotate_left(uint64_t value, int bits) {
  return (value << bits) | (value >> (64 - bits));
}

// A multiply-rotate mix per frame and a final avalanche (MurmurHash3's finalizer).
uint64_t hash_frames(const uintptr_t* frames, int count) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(count);
  for (int i = 0; i < count; ++i) {
    uint64_t k = static_cast<uint64_t>(frames[i]) * 0x87c37b91114253d5ULL;
    k = rotate_left(k, 31) * 0x4cf5ad432745937fULL;
    h = rotate_left(h ^ k, 27) * 5 + 0x52dce729;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

size_t round_up(size_t value, size_t unit) {
  return (value + unit - 1) & ~(unit - 1);
}

__attribute__((cold, noinline)) Depot* create_depot() {
  if (g_map_failed.load(std::memory_order_relaxed)) return nullptr;
  size_t limit = g_limit.load(std::memory_order_relaxed);
  void* mapping = os_map(limit);
  if (!mapping) {
    g_map_failed.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  size_t buckets = kMinBuckets;
  while (buckets * 2 * sizeof(uint32_t) <= limit / kBytesPerBucketShare) buckets *= 2;
  Depot* depot = static_cast<Depot*>(mapping);
  depot->mapping_bytes = limit;
  depot->bucket_mask = buckets - 1;
  depot->nodes =
      round_up(reinterpret_cast<uintptr_t>(mapping) + kHeaderBytes + buckets * sizeof(uint32_t), 8);
  depot->node_capacity = reinterpret_cast<uintptr_t>(mapping) + limit - depot->nodes;
  depot->used.store(0, std::memory_order_relaxed);
  Depot* expected = nullptr;
  if (!g_depot.compare_exchange_strong(expected, depot, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
    os_unmap(mapping, limit);  // another thread made the depot first
    return expected;
  }
  return depot;
}

inline Depot* get_depot() {
  Depot* depot = g_depot.load(std::memory_order_acquire);
  return __builtin_expect(depot != nullptr, 1) ? depot : create_depot();
}

// Walks the chain from `id` down to `stop` (exclusive; 0 walks it all) for the stack.
StackId find(Depot* depot, StackId id, StackId stop, uint32_t hash, const uintptr_t* frames,
             int count) {
  const size_t last_id = depot->node_capacity / 8;
  while (id != stop && id != kNoStack) {
    if (id > last_id) return kNoStack;  // never, unless the depot was overwritten
    Node* node = depot->node(id);
    if (node->hash == hash && node->count == static_cast<uint32_t>(count) &&
        memcmp(node->frames(), frames, static_cast<size_t>(count) * sizeof(uintptr_t)) == 0)
      return id;
    id = node->next.load(std::memory_order_relaxed);
  }
  return kNoStack;
}

bool take_space(Depot* depot, size_t bytes, size_t* offset) {
  size_t used = depot->used.load(std::memory_order_relaxed);
  do {
    if (bytes > depot->node_capacity - used) return false;
  } while (!depot->used.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  *offset = used;
  return true;
}

void give_back_space(Depot* depot, size_t offset, size_t bytes) {
  size_t expected = offset + bytes;
  depot->used.compare_exchange_strong(expected, offset, std::memory_order_relaxed);
}

}  // namespace

uint64_t stack_depot_hash(const uintptr_t* frames, int count) {
  return hash_frames(frames, count);
}

StackId stack_depot_put(const uintptr_t* frames, int count) {
  if (count > kStackDepotMaxFrames) count = kStackDepotMaxFrames;
  return stack_depot_put_hashed(frames, count, count > 0 ? hash_frames(frames, count) : 0);
}

StackId stack_depot_put_hashed(const uintptr_t* frames, int count, uint64_t full_hash) {
  if (count <= 0) return kNoStack;
  Depot* depot = get_depot();
  if (__builtin_expect(depot == nullptr, 0)) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return kStackDropped;
  }
  uint32_t hash = static_cast<uint32_t>(full_hash >> 32);
  std::atomic<uint32_t>& bucket = depot->buckets()[full_hash & depot->bucket_mask];
  StackId head = bucket.load(std::memory_order_acquire);
  StackId found = find(depot, head, kNoStack, hash, frames, count);
  if (found != kNoStack) return found;

  size_t bytes = sizeof(Node) + static_cast<size_t>(count) * sizeof(uintptr_t);
  size_t offset = 0;
  if (!take_space(depot, bytes, &offset)) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return kStackDropped;
  }
  StackId id = static_cast<StackId>(offset / 8 + 1);
  Node* node = depot->node(id);
  node->hash = hash;
  node->count = static_cast<uint32_t>(count);
  node->reserved = 0;
  memcpy(node->frames(), frames, static_cast<size_t>(count) * sizeof(uintptr_t));
  StackId searched = head;  // the chain from here down holds no copy of the stack
  for (;;) {
    node->next.store(head, std::memory_order_relaxed);
    if (bucket.compare_exchange_weak(head, id, std::memory_order_release,
                                     std::memory_order_acquire)) {
      g_stacks.fetch_add(1, std::memory_order_relaxed);
      return id;
    }
    // `head` is now the current head: look at what was added since the last search.
    found = find(depot, head, searched, hash, frames, count);
    if (found != kNoStack) {
      give_back_space(depot, offset, bytes);
      return found;
    }
    searched = head;
  }
}

int stack_depot_get(StackId id, uintptr_t* frames, int capacity) {
  if (id == kNoStack || id == kStackDropped) return 0;
  Depot* depot = g_depot.load(std::memory_order_acquire);
  if (!depot) return 0;
  size_t used = depot->used.load(std::memory_order_acquire);
  size_t offset = (static_cast<size_t>(id) - 1) * 8;
  if (offset >= used || used - offset < sizeof(Node)) return 0;
  Node* node = depot->node(id);
  size_t count = node->count;
  if (count == 0 || count > static_cast<size_t>(kStackDepotMaxFrames) ||
      used - offset - sizeof(Node) < count * sizeof(uintptr_t))
    return 0;
  size_t copy = capacity > 0 ? static_cast<size_t>(capacity) : 0;
  if (copy > count) copy = count;
  memcpy(frames, node->frames(), copy * sizeof(uintptr_t));
  return static_cast<int>(count);
}

void stack_depot_stats(size_t* stacks, size_t* bytes, size_t* dropped) {
  Depot* depot = g_depot.load(std::memory_order_acquire);
  if (stacks) *stacks = g_stacks.load(std::memory_order_relaxed);
  if (dropped) *dropped = g_dropped.load(std::memory_order_relaxed);
  if (bytes) {
    *bytes = depot ? depot->nodes - reinterpret_cast<uintptr_t>(depot) +
                         depot->used.load(std::memory_order_relaxed)
                   : 0;
  }
}

bool stack_depot_set_limit(size_t bytes) {
  if (g_depot.load(std::memory_order_acquire)) return false;
  if (bytes < kMinLimit) bytes = kMinLimit;
  if (bytes > kMaxLimit) bytes = kMaxLimit;
  g_limit.store(round_up(bytes, kPageBytes), std::memory_order_relaxed);
  return g_depot.load(std::memory_order_acquire) == nullptr;
}

void stack_depot_reset_for_testing(size_t limit_bytes) {
  Depot* depot = g_depot.exchange(nullptr, std::memory_order_acq_rel);
  if (depot) os_unmap(depot, depot->mapping_bytes);
  g_stacks.store(0, std::memory_order_relaxed);
  g_dropped.store(0, std::memory_order_relaxed);
  g_map_failed.store(false, std::memory_order_relaxed);
  stack_depot_set_limit(limit_bytes);
}

}  // namespace tally
