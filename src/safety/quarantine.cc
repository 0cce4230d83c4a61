// The quarantine's batches and global FIFO. Blocks leave in the order they came (per
// thread exactly, across threads by batch), and the thread whose batch pushes the global
// FIFO past its bound releases the oldest batches: freeing faster than the quarantine
// drains slows the freer down instead of growing memory. An expired batch of another live
// thread is handed back to it, to be released on its next publish: releasing it here
// would make every one of its blocks a remote free (two threads that never share a block
// ran at half speed). A thread that has not taken back the last batch handed to it, or
// has exited, gets no more: the publisher releases those itself, so the memory a stalled
// thread holds stays within one expiry.
#include "safety/quarantine.h"

#include "core/heap.h"
#include "core/large_blocks.h"
#include "core/metadata_arena.h"
#include "os/process.h"
#include "safety/safety_config.h"

namespace tally {

constexpr uint32_t kBatchCapacity = 508;

struct QuarantineBatch {
  QuarantineBatch* next;
  QuarantineBatch* previous;    // in the global FIFO
  QuarantineBatch* owner_next;  // the owner's next newer batch in the FIFO
  Heap* owner;                  // whose frees these are (nullptr: threads without a heap)
  uint32_t count;
  // The blocks this process freed itself are blocks[own_from, count), and only if
  // `process_generation` is the current one (see g_process_generation).
  uint32_t own_from;
  uint32_t process_generation;
  size_t bytes;
  uintptr_t blocks[kBatchCapacity];
};

namespace {

SpinLock g_lock;
QuarantineBatch* g_oldest = nullptr;
QuarantineBatch* g_newest = nullptr;
QuarantineBatch* g_heapless = nullptr;  // the batch of threads without a heap, under g_lock
QuarantineBatch* g_spare = nullptr;
size_t g_bytes = 0;
// Heaps with batches in the FIFO, and the share of the bound each may hold (see publish).
size_t g_owners = 0;
std::atomic<size_t> g_owner_share{SIZE_MAX};
QuarantineRelease g_release = nullptr;
// How many forks deep this process is. A forked child's check at exit verifies only the
// blocks it freed itself: the parent verifies its own copy of the rest, and reading all of
// them in every child cost a shell ~10 ms per command substitution (a cache miss per block).
uint32_t g_process_generation = 0;

QuarantineBatch* new_batch_locked() {
  QuarantineBatch* batch = g_spare;
  if (batch) {
    g_spare = batch->next;
  } else {
    batch = static_cast<QuarantineBatch*>(metadata_allocate(sizeof(QuarantineBatch)));
    if (!batch) return nullptr;
  }
  batch->next = nullptr;
  batch->previous = nullptr;
  batch->owner_next = nullptr;
  batch->owner = nullptr;
  batch->count = 0;
  batch->own_from = 0;
  batch->process_generation = g_process_generation;
  batch->bytes = 0;
  return batch;
}

void append_locked(QuarantineBatch* batch) {
  batch->next = nullptr;
  batch->previous = g_newest;
  if (g_newest)
    g_newest->next = batch;
  else
    g_oldest = batch;
  g_newest = batch;
  g_bytes += batch->bytes;
  batch->owner_next = nullptr;
  if (Heap* owner = batch->owner) {
    if (owner->quarantine_own_newest)
      owner->quarantine_own_newest->owner_next = batch;
    else
      owner->quarantine_own_oldest = batch;
    owner->quarantine_own_newest = batch;
    if (owner->quarantine_own_bytes == 0) ++g_owners;
    owner->quarantine_own_bytes += batch->bytes;
  }
}

// Takes `batch` off its owner's list, where it is the oldest (a heap's batches enter and
// leave the FIFO in the same order), if it is on it: the lists are dropped when the FIFO is
// taken whole (take_fifo_locked), and batches put back after that are on none.
void forget_owner_locked(QuarantineBatch* batch) {
  Heap* owner = batch->owner;
  if (!owner || owner->quarantine_own_oldest != batch) return;
  owner->quarantine_own_oldest = batch->owner_next;
  if (!owner->quarantine_own_oldest) owner->quarantine_own_newest = nullptr;
  owner->quarantine_own_bytes -= batch->bytes;
  if (!owner->quarantine_own_oldest) --g_owners;  // its bytes are 0: every batch holds some
}

// Takes `batch` out of the FIFO, wherever it is.
void unlink_locked(QuarantineBatch* batch) {
  if (batch->previous)
    batch->previous->next = batch->next;
  else
    g_oldest = batch->next;
  if (batch->next)
    batch->next->previous = batch->previous;
  else
    g_newest = batch->previous;
  g_bytes -= batch->bytes;
  forget_owner_locked(batch);
  batch->next = batch->previous = nullptr;
}

// Takes the oldest batches off the FIFO until it is within `limit` bytes.
QuarantineBatch* take_expired_locked(size_t limit) {
  QuarantineBatch* expired = nullptr;
  QuarantineBatch** tail = &expired;
  while (g_oldest && g_bytes > limit) {
    QuarantineBatch* batch = g_oldest;
    unlink_locked(batch);
    *tail = batch;
    tail = &batch->next;
  }
  return expired;
}

// Takes the whole FIFO off at once. Unlike take_expired_locked(0) it writes to no batch: in
// a forked child every batch's page is still shared with the parent, and rewriting each
// one's link at exit copied all of them (a shell with 20,000 strings spent 20 ms of each
// command substitution copying the quarantine's pages).
QuarantineBatch* take_fifo_locked() {
  QuarantineBatch* all = g_oldest;
  for (QuarantineBatch* batch = all; batch; batch = batch->next) {
    if (Heap* owner = batch->owner) {
      owner->quarantine_own_oldest = owner->quarantine_own_newest = nullptr;
      owner->quarantine_own_bytes = 0;
    }
  }
  g_owners = 0;
  g_oldest = nullptr;
  g_newest = nullptr;
  g_bytes = 0;
  return all;
}

// Releases every block of the batches (no lock held: release may report and allocate).
void release_batches(QuarantineBatch* batches) {
  QuarantineBatch* last = nullptr;
  for (QuarantineBatch* batch = batches; batch; batch = batch->next) {
    g_release(batch->blocks, batch->count);
    last = batch;
  }
  if (!last) return;
  LockGuard guard(g_lock);
  last->next = g_spare;
  g_spare = batches;
}

// A share of the live heap (the heaps' estimates and the large blocks, which count
// quarantined blocks too: take them out), within the configured bounds. Not the committed
// pages: quarantined blocks pin the pages they sit in, so a bound that grew with those would
// feed itself (a thread-churning test saw 200 MiB committed for 4 MiB live).
size_t current_bound() {
  size_t low = g_safety.quarantine_min_bytes, high = g_safety.quarantine_max_bytes;
  if (low >= high) return high;
  int64_t live = static_cast<int64_t>(g_live_estimate.load(std::memory_order_relaxed) +
                                      large_live_bytes() + large_quarantined_bytes()) -
                 static_cast<int64_t>(__atomic_load_n(&g_bytes, __ATOMIC_RELAXED));
  size_t divisor = g_safety.quarantine_live_divisor ? g_safety.quarantine_live_divisor : 1;
  size_t share = live > 0 ? static_cast<size_t>(live) / divisor : 0;
  return share < low ? low : (share > high ? high : share);
}

// Releases the batches handed back to `heap`, the calling thread's.
void release_returned(Heap* heap) {
  if (!heap->returned_batches.load(std::memory_order_relaxed)) return;
  release_batches(heap->returned_batches.exchange(nullptr, std::memory_order_acquire));
}

// Hands each expired batch of another live heap back to it, unless it still has one to
// take; returns the batches the caller releases itself.
QuarantineBatch* hand_back(QuarantineBatch* expired, Heap* publisher) {
  QuarantineBatch* kept = nullptr;
  QuarantineBatch** kept_tail = &kept;
  while (expired) {
    QuarantineBatch* batch = expired;
    expired = batch->next;
    batch->next = nullptr;
    Heap* owner = batch->owner;
    if (owner && owner != publisher && !__atomic_load_n(&owner->abandoned, __ATOMIC_RELAXED)) {
      QuarantineBatch* none = nullptr;
      if (owner->returned_batches.compare_exchange_strong(none, batch, std::memory_order_release,
                                                          std::memory_order_relaxed))
        continue;
    }
    *kept_tail = batch;
    kept_tail = &batch->next;
  }
  return kept;
}

// Each heap's share of the bound: all of it for a lone thread, an equal part when several
// hold batches, but never less than kMinOwnerShare. Without it, a thread's frees came back
// to it only once the whole FIFO had turned over: 1000 threads that each freed a burst of
// 0.9 MB and then waited held 1.1 GB (fast mode: 128 MB) and ran 4x slower, every one of
// their allocations a fresh page.
constexpr size_t kMinOwnerShare = size_t{64} << 10;

size_t owner_share_locked(size_t bound) {
  size_t share = g_owners > 1 ? bound / g_owners : bound;
  return share > kMinOwnerShare ? share : kMinOwnerShare;
}

void publish(QuarantineBatch* batch, Heap* publisher) {
  size_t bound = current_bound();
  QuarantineBatch* expired;
  QuarantineBatch* own = nullptr;  // the publisher's oldest, past its share
  {
    LockGuard guard(g_lock);
    append_locked(batch);
    expired = take_expired_locked(bound);
    size_t share = owner_share_locked(bound);
    g_owner_share.store(share, std::memory_order_relaxed);
    if (publisher) {
      QuarantineBatch** tail = &own;
      while (publisher->quarantine_own_bytes > share && publisher->quarantine_own_oldest &&
             publisher->quarantine_own_oldest != publisher->quarantine_own_newest) {
        QuarantineBatch* oldest = publisher->quarantine_own_oldest;
        unlink_locked(oldest);
        *tail = oldest;
        tail = &oldest->next;
      }
    }
  }
  release_batches(own);
  release_batches(hand_back(expired, publisher));
  if (publisher) {
    release_returned(publisher);
    // The blocks released here may empty pages of heaps whose threads have exited, which
    // no allocation of theirs will ever collect: a thread that only ever reuses its own
    // pages never reaches the other slow paths that purge them.
    heap_purge_expired(publisher);
  }
}

// Moves the batches handed back to every heap and not taken yet onto `list`, under the
// heap-list lock (the caller releases or verifies them after it: that may report).
void take_all_returned(QuarantineBatch** list) {
  heap_for_each(
      [](Heap* heap, void* context) {
        QuarantineBatch*& list = *static_cast<QuarantineBatch**>(context);
        QuarantineBatch* batch =
            heap->returned_batches.exchange(nullptr, std::memory_order_acquire);
        while (batch) {
          QuarantineBatch* next = batch->next;
          batch->next = list;
          list = batch;
          batch = next;
        }
      },
      list);
}

// Every held batch, taken out of the quarantine: the calling thread's, the heapless one,
// the FIFO's, and those handed back to other threads and not taken yet.
QuarantineBatch* take_all_held() {
  Heap* heap = t_heap;
  QuarantineBatch* held;
  {
    LockGuard guard(g_lock);
    // The calling thread's batch joins the FIFO without a publish: that would release the
    // expired batches, writing to their blocks (in a forked child's check at exit, copying
    // the parent's pages).
    if (heap && heap->quarantine_batch) {
      append_locked(heap->quarantine_batch);
      heap->quarantine_batch = nullptr;
    }
    if (g_heapless) {
      append_locked(g_heapless);
      g_heapless = nullptr;
    }
    held = take_fifo_locked();
  }
  take_all_returned(&held);
  return held;
}

// In a forked child: the blocks already in a batch still being filled are the parent's.
void mark_inherited(QuarantineBatch* batch) {
  if (!batch) return;
  batch->own_from = batch->count;
  batch->process_generation = g_process_generation;
}

}  // namespace

void quarantine_set_release(QuarantineRelease release) {
  g_release = release;
}

QuarantineRelease quarantine_release() {
  return g_release;
}

void quarantine_put(Heap* heap, uintptr_t block, size_t bytes) {
  if (!heap) {
    QuarantineBatch* full = nullptr;
    bool held = false;
    {
      LockGuard guard(g_lock);
      if (!g_heapless) g_heapless = new_batch_locked();
      if (g_heapless) {
        held = true;
        g_heapless->blocks[g_heapless->count++] = block;
        g_heapless->bytes += bytes;
        if (g_heapless->count == kBatchCapacity) {
          full = g_heapless;
          g_heapless = nullptr;
        }
      }
    }
    if (!held) return g_release(&block, 1);  // out of metadata memory: no quarantine for it
    if (full) publish(full, nullptr);
    return;
  }
  QuarantineBatch* batch = heap->quarantine_batch;
  if (TALLY_UNLIKELY(!batch)) {
    {
      LockGuard guard(g_lock);
      batch = new_batch_locked();
    }
    if (!batch) {
      g_release(&block, 1);
      return;
    }
    batch->owner = heap;
    heap->quarantine_batch = batch;
  }
  batch->blocks[batch->count++] = block;
  batch->bytes += bytes;
  if (batch->count == kBatchCapacity || batch->bytes >= g_safety.thread_quarantine_bytes ||
      batch->bytes >= g_owner_share.load(std::memory_order_relaxed)) {
    heap->quarantine_batch = nullptr;
    heap_note_activity(heap, batch->bytes);
    publish(batch, heap);
  }
}

void quarantine_flush_heap(Heap* heap) {
  QuarantineBatch* batch = heap->quarantine_batch;
  if (batch) {
    heap->quarantine_batch = nullptr;
    publish(batch, heap);
  }
  release_returned(heap);
}

void quarantine_drain() {
  release_batches(take_all_held());
}

void quarantine_verify_held(QuarantineRelease verify) {
  // The batches leave the FIFO while they are verified (a report may allocate and free,
  // which takes the lock) and go back to its old end afterwards, so nothing is released.
  QuarantineBatch* held = take_all_held();
  QuarantineBatch* last = nullptr;
  size_t held_bytes = 0;
  for (QuarantineBatch* batch = held; batch; batch = batch->next) {
    if (batch->process_generation == g_process_generation && batch->count > batch->own_from)
      verify(batch->blocks + batch->own_from, batch->count - batch->own_from);
    held_bytes += batch->bytes;
    last = batch;
  }
  if (!last) return;
  LockGuard guard(g_lock);
  // Back in front, on no owner's list (take_fifo_locked dropped them): they leave by age.
  last->next = g_oldest;
  if (g_oldest) g_oldest->previous = last;
  held->previous = nullptr;
  g_oldest = held;
  if (!g_newest) g_newest = last;
  g_bytes += held_bytes;
}

size_t quarantine_bytes_held() {
  return g_bytes;
}

void quarantine_lock_for_fork() {
  g_lock.lock();
}
void quarantine_unlock_after_fork(bool in_child) {
  g_lock.release_after_fork(in_child);
  if (!in_child) return;
  // Every batch now holds the parent's frees; the ones still being filled (the heaps' and
  // the heapless one) take the child's after those.
  ++g_process_generation;
  mark_inherited(g_heapless);
  heap_for_each([](Heap* heap, void*) { mark_inherited(heap->quarantine_batch); }, nullptr);
}

}  // namespace tally
