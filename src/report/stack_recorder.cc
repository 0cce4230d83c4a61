// The stack recorder: memo, walk, frame-hash cache, depot (see the header for why).
//
// The memo is fully associative: 32 entries per heap, any of which may hold any start,
// found through a row of 32-bit keys (a hash of the start, the depth and the thread)
// compared four at a time, the entry hit last tried first, and the victim chosen by the
// clock (second chance) algorithm: an entry used since the hand last passed it is spared
// once. Frees from one call site at one stack depth often come from several callers above
// it (an interpreter freeing objects of different types, each through its own deallocation
// function, all from the same evaluation loop), so they share the start and differ only in
// the words above it. A direct-mapped memo indexed by the start keeps one of them and walks
// again for every other (see docs/design.md for the measurements). An entry is valid for
// the thread that filled it only (heaps move to new threads when old ones exit). A signal
// handler that records a stack while the interrupted code is looking an entry up or
// filling one skips the memo, so no entry changes under either.
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
  uint32_t used;                        // bit i: entry i was hit or filled since the hand passed
  unsigned hand;                        // where the search for the next victim starts
  unsigned last;                        // the entry hit or filled last, tried first (loops repeat)
  alignas(64) uint32_t keys[kEntries];  // memo_key of each entry; 0: empty or being filled
  StackMemoEntry entries[kEntries];
  // Behind the entries, the depot ids of stacks walked lately, by the depot's hash of their
  // frames: a walk that finds its stack here skips the depot's chain and frame comparison.
  // g++ (a walk for two frees in three, 44,000 distinct stacks) went on to the depot after
  // 80% of its walks with 256 entries (a thread's cache then), 34% with 1024 and 16% with
  // 4096, which saved only 0.2% more of its instructions for four times the memory: 16 KiB
  // a heap, touched as used.
  static constexpr unsigned kCachedStacks = 1024;
  struct CachedStack {
    uint64_t hash;  // 0: empty
    StackId id;
  } cached_stacks[kCachedStacks];
};

namespace {

constexpr int kMaxDepth = kMaxStackDepth;
constexpr int kTallyFrames = 8;  // room for tally's own frames above the program's

__thread bool t_recording = false;

// Drops tally's frames and keeps `depth`; returns how many frames are left in
// frames[*first, *first + result).
int program_frames(const uintptr_t* frames, int count, int depth, int* first) {
  int skipped = 0;
  while (skipped < count && address_in_tally_code(frames[skipped])) ++skipped;
  *first = skipped;
  int kept = count - skipped;
  return kept < depth ? kept : depth;
}

// Names a walk's stack without the memo: straight to the depot.
StackId identify_uncached(const uintptr_t* frames, int count, int depth) {
  int first;
  int kept = program_frames(frames, count, depth, &first);
  return kept > 0 ? stack_depot_put(frames + first, kept) : kNoStack;
}

// Drops tally's frames, keeps `depth`, and names the stack through the memo's cache.
StackId identify(StackMemo* memo, const uintptr_t* frames, int count, int depth) {
  int first;
  int kept = program_frames(frames, count, depth, &first);
  if (kept <= 0) return kNoStack;
  uint64_t hash = stack_depot_hash(frames + first, kept);
  StackMemo::CachedStack& cached = memo->cached_stacks[hash % StackMemo::kCachedStacks];
  if (cached.hash == (hash | 1)) return cached.id;
  StackId id = stack_depot_put_hashed(frames + first, kept, hash);
  cached.hash = hash | 1;
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

// The entry to fill: the first from the hand on that was not used since the hand last
// passed it; the used ones it passes lose their mark (all of them, when every entry is
// marked). Close to evicting the entry used least recently, in a few instructions where
// the scan for the oldest took about 190 a walk (g++ misses the memo on two frees in three).
unsigned memo_victim(StackMemo& memo) {
  static_assert(StackMemo::kEntries == 32, "the marks are one 32-bit word");
  auto rotate_right = [](uint32_t bits, unsigned by) {
    return by == 0 ? bits : (bits >> by) | (bits << (32 - by));
  };
  unsigned hand = memo.hand;
  uint32_t unused_from_hand = rotate_right(~memo.used, hand);  // bit j: entry hand + j
  unsigned victim;
  if (unused_from_hand == 0) {
    victim = hand;
    memo.used = 0;
  } else {
    unsigned passed = static_cast<unsigned>(__builtin_ctz(unused_from_hand));
    victim = (hand + passed) & 31;
    uint32_t passed_marks = (uint32_t{1} << passed) - 1;  // passed < 32
    memo.used &= ~rotate_right(passed_marks, (32 - hand) & 31);
  }
  memo.hand = (victim + 1) & 31;
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
    return identify_uncached(frames, 1, depth);
  }
  StackMemo* memo = t_recording ? nullptr : memo_of_thread();
  if (TALLY_UNLIKELY(!memo)) {
    return identify_uncached(frames, stack_walk(start, frames, depth + kTallyFrames, nullptr),
                             depth);
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
    memo->used |= uint32_t{1} << hit;
    memo->last = hit;
    id = memo->entries[hit].id;
  } else {
    ++memo->stats.walks;
    unsigned victim = memo_victim(*memo);
    StackMemoEntry& entry = memo->entries[victim];
    memo->keys[victim] = 0;  // no lookup reaches the entry while it is filled
    int count = stack_walk(start, frames, depth + kTallyFrames, &entry.reads);
    id = identify(memo, frames, count, depth);
    if (!entry.reads.overflowed) {
      entry.start = start;
      entry.depth = depth;
      entry.id = id;
      entry.thread_plus_one = thread_plus_one;
      memo->keys[victim] = key;
      memo->used |= uint32_t{1} << victim;
      memo->last = victim;
    } else {
      // Too many reads to vouch for the walk: the entry stays empty and is the next one
      // filled, so walks that overflow (deep stacks, stack_depth above about 40) take one
      // entry between them instead of emptying the memo one entry at a time.
      memo->hand = victim;
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
