// The stack recorder: memo, walk, frame-hash cache, depot (see the header for why).
//
// The memo is fully associative: 32 entries per heap, any of which may hold any start,
// found through a row of 32-bit keys (a hash of the start, the depth and the thread)
// compared four at a time, the entry hit last tried first, the one used least recently
// evicted. Frees from one call site at one stack depth often come from several callers
// above it (an interpreter freeing objects of different types, each through its own
// deallocation function, all from the same evaluation loop), so they share the start and
// differ only in the words above it. A direct-mapped memo indexed by the start keeps one
// of them and walks again for every other (see docs/design.md for the measurements).
// An entry is valid for the thread that filled it only (heaps move to new threads when
// old ones exit). A signal handler that records a stack while the interrupted code is
// looking an entry up or filling one skips the memo, so no entry changes under either.
#include "report/stack_recorder.h"

#include <atomic>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/heap.h"
#include "core/metadata_arena.h"
#include "os/process.h"
#include "report/stack_capture.h"

namespace tally {

struct StackMemoEntry {
  uint32_t thread_plus_one;  // the key is a hash: the entry still names its thread
  int depth;
  StackId id;
  StackWalkStart start;
  StackWalkReads reads;
};

struct StackMemo {
  static constexpr unsigned kEntries = kStackMemoEntries;
  StackRecorderStats stats;             // written by the owning thread only
  uint64_t clock;                       // counts hits and fills, for last_used
  unsigned last;                        // the entry hit or filled last, tried first (loops repeat)
  alignas(64) uint32_t keys[kEntries];  // memo_key of each entry; 0: empty or being filled
  uint64_t last_used[kEntries];         // the clock at the entry's last hit or fill
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

// Never 0, so that 0 can mark an entry no start matches. 32 bits, so that the row of keys
// is two cache lines, compared four at a time.
uint32_t memo_key(const StackWalkStart& start, int depth, uint32_t thread_plus_one) {
  uint64_t key = (start.pc ^ (start.sp * 0x9E3779B97F4A7C15ull) ^
                  (uint64_t{thread_plus_one} << 40 | static_cast<uint64_t>(depth) << 32)) *
                 0xBF58476D1CE4E5B9ull;
  return static_cast<uint32_t>(key >> 32) | 1;
}

// The entries whose key is `key`, as a bit mask (SSE2, which every x86-64 has).
uint32_t entries_keyed(const StackMemo& memo, uint32_t key) {
  static_assert(StackMemo::kEntries <= 32 && StackMemo::kEntries % 4 == 0);
  uint32_t mask = 0;
#if defined(__SSE2__)
  __m128i wanted = _mm_set1_epi32(static_cast<int>(key));
  for (unsigned i = 0; i < StackMemo::kEntries; i += 4) {
    __m128i row = _mm_load_si128(reinterpret_cast<const __m128i*>(&memo.keys[i]));
    mask |= static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(row, wanted))))
            << i;
  }
#else
  for (unsigned i = 0; i < StackMemo::kEntries; ++i)
    mask |= static_cast<uint32_t>(memo.keys[i] == key) << i;
#endif
  return mask;
}

// The entry to fill: an empty one, or the one used least recently.
unsigned memo_victim(const StackMemo& memo) {
  unsigned victim = 0;
  for (unsigned i = 1; i < StackMemo::kEntries; ++i)
    if (memo.last_used[i] < memo.last_used[victim]) victim = i;
  return victim;
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
  // From here to the return the memo is this call's: a signal handler that records a
  // stack meanwhile walks without it, so it never changes an entry under a lookup or a fill.
  t_recording = true;
  // After the flag is up, every load from the memo below (the compiler may not hoist them).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  uint32_t thread_plus_one = current_thread_number() + 1;
  uint32_t key = memo_key(start, depth, thread_plus_one);
  auto answers = [&](unsigned i) {
    const StackMemoEntry& entry = memo->entries[i];
    return entry.thread_plus_one == thread_plus_one && entry.depth == depth &&
           entry.start.pc == start.pc && entry.start.sp == start.sp &&
           (entry.start.bp == start.bp || !entry.reads.uses_start_frame_pointer) &&
           stack_walk_reads_unchanged(entry.reads);
  };
  unsigned hit = StackMemo::kEntries;
  if (memo->keys[memo->last] == key && answers(memo->last)) {
    hit = memo->last;
  } else {
    uint32_t candidates = entries_keyed(*memo, key) & ~(uint32_t{1} << memo->last);
    for (; candidates != 0; candidates &= candidates - 1) {
      unsigned i = static_cast<unsigned>(__builtin_ctz(candidates));
      if (answers(i)) {
        hit = i;
        break;
      }
    }
  }
  StackId id;
  if (hit < StackMemo::kEntries) {
    ++memo->stats.memo_hits;
    memo->last_used[hit] = ++memo->clock;
    memo->last = hit;
    id = memo->entries[hit].id;
  } else {
    ++memo->stats.walks;
    unsigned victim = memo_victim(*memo);
    StackMemoEntry& entry = memo->entries[victim];
    memo->keys[victim] = 0;  // no lookup reaches the entry while it is filled
    int count = stack_walk(start, frames, depth + kTallyFrames, &entry.reads);
    id = identify(frames, count, depth);
    if (!entry.reads.overflowed) {
      entry.start = start;
      entry.depth = depth;
      entry.id = id;
      entry.thread_plus_one = thread_plus_one;
      memo->keys[victim] = key;
      memo->last_used[victim] = ++memo->clock;
      memo->last = victim;
    } else {
      // Too many reads to vouch for the walk: the entry stays empty and is the next one
      // filled, so walks that overflow (deep stacks, stack_depth above about 40) take one
      // entry between them instead of emptying the memo one entry at a time.
      memo->last_used[victim] = 0;
    }
  }
  // Before the flag drops, every store to the memo above (the compiler may not sink them).
  std::atomic_signal_fence(std::memory_order_seq_cst);
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
