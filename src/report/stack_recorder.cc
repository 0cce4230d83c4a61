// The stack recorder: memo, walk, frame-hash cache, depot (see the header for why).
//
// The memo is direct-mapped, 16 entries per heap, indexed by the start's return address
// and stack pointer. An entry is valid for the thread that filled it only (heaps move to
// new threads when old ones exit). A signal handler that records a stack while the
// interrupted code is filling an entry skips the memo, so an entry is never half-written
// under a reader.
#include "report/stack_recorder.h"

#include "core/heap.h"
#include "core/metadata_arena.h"
#include "os/process.h"
#include "report/stack_capture.h"

namespace tally {

struct StackMemoEntry {
  uint32_t thread_plus_one;  // 0: empty
  int depth;
  StackId id;
  StackWalkStart start;
  StackWalkReads reads;
};

struct StackMemo {
  static constexpr unsigned kEntries = 16;
  StackRecorderStats stats;  // written by the owning thread only
  StackMemoEntry entries[kEntries];
};

namespace {

constexpr int kMaxDepth = kMaxStackDepth;
constexpr int kTallyFrames = 8;  // room for tally's own frames above the program's

constexpr unsigned kFrameCacheSize = 256;
struct FrameCacheEntry {
  uint64_t hash;
  StackId id;
};
__thread FrameCacheEntry t_frame_cache[kFrameCacheSize];
__thread bool t_recording = false;

uint64_t hash_frames(const uintptr_t* frames, int count) {
  uint64_t hash = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(count);
  for (int i = 0; i < count; ++i) {
    hash ^= frames[i];
    hash *= 0xBF58476D1CE4E5B9ull;
    hash ^= hash >> 31;
  }
  return hash | 1;  // 0 marks an empty cache entry
}

// Drops tally's frames, keeps `depth`, and names the stack through the caches.
StackId identify(uintptr_t* frames, int count, int depth) {
  int first = 0;
  while (first < count && address_in_tally_code(frames[first])) ++first;
  if (count - first > depth) count = first + depth;
  if (count == first) return kNoStack;
  uint64_t hash = hash_frames(frames + first, count - first);
  FrameCacheEntry& cached = t_frame_cache[hash % kFrameCacheSize];
  if (cached.hash == hash) return cached.id;
  StackId id = stack_depot_put(frames + first, count - first);
  cached.hash = hash;
  cached.id = id;
  return id;
}

StackMemo* memo_of_thread() {
  Heap* heap = t_heap;
  if (TALLY_UNLIKELY(!heap)) return nullptr;
  if (TALLY_UNLIKELY(!heap->stack_memo))
    heap->stack_memo = static_cast<StackMemo*>(metadata_allocate(sizeof(StackMemo)));
  return heap->stack_memo;
}

size_t memo_index(const StackWalkStart& start) {
  uint64_t key = (start.pc ^ (start.sp * 0x9E3779B97F4A7C15ull));
  return (key >> 58) & (StackMemo::kEntries - 1);
}

}  // namespace

TALLY_NOINLINE StackId stack_record_current(int depth) {
  if (depth > kMaxDepth) depth = kMaxDepth;
  if (depth < 1) depth = 1;
  uintptr_t frames[kMaxDepth + kTallyFrames];
  StackWalkStart start;
  if (TALLY_UNLIKELY(
          !stack_walk_start_at(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)), &start))) {
    // A foreign or unknown stack: only the return address into our caller is safe to read.
    frames[0] = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
    return identify(frames, 1, depth);
  }
  StackMemo* memo = t_recording ? nullptr : memo_of_thread();
  if (TALLY_UNLIKELY(!memo)) {
    return identify(frames, stack_walk(start, frames, depth + kTallyFrames, nullptr), depth);
  }
  uint32_t thread_plus_one = current_thread_number() + 1;
  StackMemoEntry& entry = memo->entries[memo_index(start)];
  if (entry.thread_plus_one == thread_plus_one && entry.depth == depth &&
      entry.start.pc == start.pc && entry.start.sp == start.sp &&
      (entry.start.bp == start.bp || !entry.reads.uses_start_frame_pointer) &&
      stack_walk_reads_unchanged(entry.reads)) {
    ++memo->stats.memo_hits;
    return entry.id;
  }
  ++memo->stats.walks;
  t_recording = true;
  entry.thread_plus_one = 0;
  int count = stack_walk(start, frames, depth + kTallyFrames, &entry.reads);
  StackId id = identify(frames, count, depth);
  if (!entry.reads.overflowed) {
    entry.start = start;
    entry.depth = depth;
    entry.id = id;
    entry.thread_plus_one = thread_plus_one;
  }
  t_recording = false;
  return id;
}

StackRecorderStats stack_recorder_stats_of(const Heap* heap) {
  StackRecorderStats stats{};
  if (const StackMemo* memo = __atomic_load_n(&heap->stack_memo, __ATOMIC_ACQUIRE)) {
    stats.memo_hits = __atomic_load_n(&memo->stats.memo_hits, __ATOMIC_RELAXED);
    stats.walks = __atomic_load_n(&memo->stats.walks, __ATOMIC_RELAXED);
  }
  return stats;
}

}  // namespace tally
