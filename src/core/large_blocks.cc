// Large blocks. Each reserves whole registry slots (4 MiB multiples) of address space, so
// any cached mapping can serve any request up to its reservation, and a realloc within the
// reservation needs no system call. Untouched pages cost nothing but commit charge: the
// mappings are charged like glibc's, so the kernel's overcommit policy can refuse a block.
// One lock guards the cache, the live list and the descriptor free list; slow system
// calls (mmap, munmap, mremap) run outside it.
#include "core/large_blocks.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "core/metadata_arena.h"
#include "core/registry.h"
#include "os/memory.h"
#include "os/process.h"

namespace tally {
namespace {

// Enough for a working set of hundreds of blocks to come back from the cache when a thread
// ends and the next builds it again (64 made mstress fault in twice mimalloc's pages); the
// walks of the list at allocation cost less than one page fault.
constexpr unsigned kCacheLimit = 256;
constexpr size_t kCacheBytesLimit = size_t{1} << 30;  // address space held by the cache
// Cached mappings keep their pages while they fit a budget and are younger than the delay,
// so a loop that frees and reallocates big buffers does not fault them in again. The budget
// is this floor, or what the program took back from the cache over the last purge delay or
// so (a window and the one before it) when that is more, up to the cache's address space:
// pages are kept in proportion to their reuse. A fixed 128 MiB was under the working set of
// large_blocks (four live buffers of 256 KiB to 32 MiB, replaced one at a time): it
// faulted in 437 MiB where 256 MiB faulted 183 MiB, the mappings' first touches, and took
// twice the time. A fixed 256 MiB, though, kept that much resident in a program that freed
// its big buffers and went on with small blocks only, which purge nothing (stress_rss):
// the budget has to follow reuse, not memory. Pages past the delay are purged by the next
// large-block call or small-block slow path (large_purge_expired).
size_t g_cache_committed_floor = size_t{128} << 20;
constexpr uint32_t kPurgeDelayMilliseconds = 500;
// Bytes served from the cache in the current window and in the one before it.
uint32_t g_reuse_window_start = 0;
size_t g_reused_this_window = 0;
size_t g_reused_last_window = 0;
// A realloc that shrinks a block gives back the stale tail when it is this big. (Reuse
// from the cache keeps the tail: the next, bigger block would fault it in again.)
constexpr size_t kTailDecommitThreshold = size_t{1} << 20;

SpinLock g_lock;
// Held for the whole of a move of a block's pages (a realloc past the reservation, debug
// mode's move that leaves a husk), system calls included, and taken first by the leak
// check and fork (large_lock_moves_for_fork). Between the move of the pages and the update
// of the descriptor, the block is in neither place: a check that stopped a thread there
// marked through a descriptor whose range no longer held the block (debug mode's move also
// takes the block out of kLive for its length, so its contents went unscanned and every
// block only it pointed to was reported leaked). Moves are rare and each is a system call
// that takes the kernel's own lock of the address space anyway, so serializing them costs
// nothing measurable.
SpinLock g_move_lock;
LargeBlock* g_cache = nullptr;  // most recently freed first
unsigned g_cache_count = 0;
size_t g_cache_bytes = 0;
size_t g_cache_committed_bytes = 0;
LargeBlock* g_spare_descriptors = nullptr;
LargeBlock* g_live = nullptr;
size_t g_live_count = 0;
size_t g_live_bytes = 0;
size_t g_peak_bytes = 0;
std::atomic<size_t> g_quarantined_bytes{0};
bool g_tail_guards = false;
const ProtectionCosts* g_tail_guard_costs = nullptr;
// Each guard splits its block's mapping in two: bounded well inside vm.max_map_count.
constexpr size_t kMaxTailGuards = 8192;
std::atomic<size_t> g_tail_guard_count{0};

size_t round_to_os_pages(size_t size) {
  return (size + kOsPageSize - 1) & ~(kOsPageSize - 1);
}
size_t round_to_slots(size_t size) {
  return (size + kSegmentMask) & ~kSegmentMask;
}

uintptr_t registry_value(LargeBlock* block) {
  return reinterpret_cast<uintptr_t>(block) | kRegistryLarge;
}

void live_insert_locked(LargeBlock* block) {
  block->mark_flags.store(0, std::memory_order_relaxed);  // a new life: no marks, scanned
  block->previous = nullptr;
  block->next = g_live;
  if (g_live) g_live->previous = block;
  g_live = block;
  ++g_live_count;
  g_live_bytes += block->usable_size;
  if (g_live_bytes > g_peak_bytes) g_peak_bytes = g_live_bytes;
}

void live_remove_locked(LargeBlock* block) {
  if (block->previous)
    block->previous->next = block->next;
  else
    g_live = block->next;
  if (block->next) block->next->previous = block->previous;
  --g_live_count;
  g_live_bytes -= block->usable_size;
}

void uncache_locked(LargeBlock* block, LargeBlock* previous) {
  (previous ? previous->next : g_cache) = block->next;
  --g_cache_count;
  g_cache_bytes -= block->mapped_size;
  g_cache_committed_bytes -= block->committed_size;
}

void roll_reuse_window_locked(uint32_t now) {
  uint32_t elapsed = now - g_reuse_window_start;
  if (elapsed < kPurgeDelayMilliseconds) return;
  g_reused_last_window = elapsed < 2 * kPurgeDelayMilliseconds ? g_reused_this_window : 0;
  g_reused_this_window = 0;
  g_reuse_window_start = now;
}

// Takes a cached mapping whose reservation holds `size` bytes: the smallest reservation,
// and among equal ones the one whose committed pages cover most of the request, since
// every page short of it is a fault to come. (Taking the most recent of the right
// reservation, whatever it had committed, made a mix of 300 KiB and 1 MiB blocks fault
// five times as many pages as jemalloc.) Stops at the first mapping that leaves nothing
// to fault. With `for_moved_pages`, the taker replaces the mapping's pages with its own: the
// one with the fewest committed pages is taken (the others keep theirs for allocations),
// and nothing counts as reused.
LargeBlock* take_from_cache_locked(size_t size, uint32_t now, bool for_moved_pages = false) {
  LargeBlock* best = nullptr;
  LargeBlock* best_previous = nullptr;
  size_t best_missing = 0;
  LargeBlock* previous = nullptr;
  for (LargeBlock* block = g_cache; block; previous = block, block = block->next) {
    if (block->mapped_size < size) continue;
    // What the choice minimizes among reservations of one size: pages to fault in, or
    // for moved pages, committed pages to throw away.
    size_t missing = for_moved_pages                ? block->committed_size
                     : size > block->committed_size ? size - block->committed_size
                                                    : 0;
    if (!best || block->mapped_size < best->mapped_size ||
        (block->mapped_size == best->mapped_size && missing < best_missing)) {
      best = block;
      best_previous = previous;
      best_missing = missing;
      if (block->mapped_size == round_to_slots(size) && missing == 0) break;
    }
  }
  if (best) {
    uncache_locked(best, best_previous);
    roll_reuse_window_locked(now);
    if (!for_moved_pages) g_reused_this_window += size;
  }
  return best;
}

// A cached mapping whose committed pages a new reservation of `reservation` bytes may take
// over (adopt_cached_pages): the one with the most, at least kMinAdoptedBytes and no more
// than the reservation, whose committed pages all lie before its tail guard (debug mode),
// since the kernel moves one mapping at a time.
constexpr size_t kMinAdoptedBytes = size_t{64} << 10;

LargeBlock* take_pages_donor_locked(size_t reservation) {
  LargeBlock* best = nullptr;
  LargeBlock* best_previous = nullptr;
  LargeBlock* previous = nullptr;
  for (LargeBlock* block = g_cache; block; previous = block, block = block->next) {
    if (block->committed_size < kMinAdoptedBytes || block->committed_size > reservation ||
        (block->tail_guard && block->tail_guard < block->committed_size))
      continue;
    if (!best || block->committed_size > best->committed_size) {
      best = block;
      best_previous = previous;
    }
  }
  if (best) uncache_locked(best, best_previous);
  return best;
}

size_t cache_committed_bound(uint32_t now) {
  roll_reuse_window_locked(now);
  size_t reused =
      g_reused_this_window > g_reused_last_window ? g_reused_this_window : g_reused_last_window;
  if (reused > kCacheBytesLimit) reused = kCacheBytesLimit;
  return reused > g_cache_committed_floor ? reused : g_cache_committed_floor;
}

// Makes room in the cache's budget of committed pages for `incoming` bytes, which the
// newest mapping brings: the most recently freed mappings keep their pages, newest first
// while they fit, and the rest are decommitted. (Decommitting the incoming mapping
// instead, as before, threw away the pages a loop was likeliest to want next.) False if
// the incoming pages alone do not fit.
bool make_room_in_cache_locked(size_t incoming, uint32_t now) {
  size_t bound = cache_committed_bound(now);
  if (g_cache_committed_bytes + incoming <= bound) return true;
  if (incoming > bound) return false;
  size_t kept = incoming;
  for (LargeBlock* block = g_cache; block; block = block->next) {
    if (!block->committed_size) continue;
    if (kept + block->committed_size <= bound) {
      kept += block->committed_size;
      continue;
    }
    os_decommit(reinterpret_cast<void*>(block->base), block->committed_size);
    g_cache_committed_bytes -= block->committed_size;
    block->committed_size = 0;
  }
  return true;
}

// Decommits cached mappings older than the delay. (Trimming retires the whole cache.)
void purge_expired_locked(uint32_t now) {
  for (LargeBlock* block = g_cache; block; block = block->next) {
    if (block->committed_size && now - block->cached_at >= kPurgeDelayMilliseconds) {
      os_decommit(reinterpret_cast<void*>(block->base), block->committed_size);
      g_cache_committed_bytes -= block->committed_size;
      block->committed_size = 0;
    }
  }
}

// Unmaps a block that is no longer live or cached; its descriptor goes to the spare list.
// `still_mapped` is false when the kernel has already taken the range back (a refused move
// on an older kernel): it may be another thread's by now, so neither its mapping nor its
// slots are touched.
void retire_locked(LargeBlock* block, bool still_mapped = true) {
  if (block->tail_guard) {
    block->tail_guard = 0;  // unmapped with the rest
    g_tail_guard_count.fetch_sub(1, std::memory_order_relaxed);
  }
  if (still_mapped) {
    registry_set(block->base, block->mapped_size, 0);
    os_unmap(reinterpret_cast<void*>(block->base), block->mapped_size);
  }
  g_bytes_mapped.fetch_sub(block->mapped_size, std::memory_order_relaxed);
  block->state.store(LargeState::kRetired, std::memory_order_release);
  block->next = g_spare_descriptors;
  g_spare_descriptors = block;
}

// The tail guard is the whole rest of the reservation, from the block's last page to the
// reservation's end: one protection change, and the inaccessible pages form one mapping
// with the guard (a single guard page between two accessible parts split the mapping in
// three), so an overflow faults however far past the end it lands within the reservation.
bool protect_pages(uintptr_t start, size_t size, int protection) {
  int saved_errno = errno;
  bool done = mprotect(reinterpret_cast<void*>(start), size, protection) == 0;
  errno = saved_errno;
  return done;
}

void remove_tail_guard(LargeBlock* block) {
  if (!block->tail_guard) return;
  protect_pages(block->base + block->tail_guard, block->mapped_size - block->tail_guard,
                PROT_READ | PROT_WRITE);
  block->tail_guard = 0;
  g_tail_guard_count.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t tail_guard_clock() {
  return g_tail_guard_costs ? g_tail_guard_costs->clock() : 0;
}

// Charges a guard's change: the call, and the refaults of the pages it covered that were
// in use (when the guard gives them back and they are touched again).
void charge_tail_guard(uint64_t started, size_t bytes_in_use_covered) {
  if (g_tail_guard_costs) g_tail_guard_costs->charge(started, bytes_in_use_covered / kOsPageSize);
}

// Makes everything after the block's usable pages inaccessible (moving the guard's start
// there if it was elsewhere: one system call for the difference), when the reservation has
// room and the bound allows. The block is live and owned by the caller, or not yet
// published. A guard is at or past the block's end: moving it down to the end is left out
// when the costs refuse (mstress in debug mode moved guards over 188,000 pages that had
// been in use, and their refaults were a third of its time, uncounted).
void place_tail_guard(LargeBlock* block) {
  if (!g_tail_guards) return;
  size_t wanted = block->usable_size;
  size_t current = block->tail_guard;
  if (current == wanted) return;
  if (wanted + kOsPageSize > block->mapped_size) return remove_tail_guard(block);
  if (current) {
    if (wanted < current) {
      if (g_tail_guard_costs && !g_tail_guard_costs->allows()) return;
      uint64_t started = tail_guard_clock();
      protect_pages(block->base + wanted, current - wanted, PROT_NONE);
      charge_tail_guard(started, current - wanted);  // below the guard: maybe used
    } else {
      uint64_t started = tail_guard_clock();
      protect_pages(block->base + current, wanted - current, PROT_READ | PROT_WRITE);
      charge_tail_guard(started, 0);  // their refaults were charged when they were covered
    }
    block->tail_guard = wanted;
    return;
  }
  if (g_tail_guard_count.fetch_add(1, std::memory_order_relaxed) >= kMaxTailGuards) {
    g_tail_guard_count.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  uint64_t started = tail_guard_clock();
  if (protect_pages(block->base + wanted, block->mapped_size - wanted, PROT_NONE))
    block->tail_guard = wanted;
  else
    g_tail_guard_count.fetch_sub(1, std::memory_order_relaxed);
  // What a block of this reservation used past `wanted` before (committed_size: none for
  // a fresh mapping) refaults when it is used again.
  charge_tail_guard(started, block->committed_size > wanted ? block->committed_size - wanted : 0);
}

// Readies a cached mapping for a block of `usable` bytes.
void* reuse(LargeBlock* block, uintptr_t base, size_t usable, bool zero) {
  place_tail_guard(block);
  void* memory = reinterpret_cast<void*>(base);
  // Pages past committed_size were never touched or were decommitted: they read as zero.
  if (zero) memset(memory, 0, block->committed_size < usable ? block->committed_size : usable);
  return memory;
}

// A reservation for `usable` bytes grown from one of `old_reservation`: at least 1.5x it,
// so that a loop of small reallocs costs amortized O(1) system calls.
size_t grown_reservation(size_t old_reservation, size_t usable) {
  size_t reservation = round_to_slots(usable);
  if (reservation < old_reservation + old_reservation / 2)
    reservation = round_to_slots(old_reservation + old_reservation / 2);
  return reservation;
}

// Extends the block's reservation to `reservation` bytes where the address space after it
// is free; the caller holds g_move_lock, and the block's tail guard is off. The registry's
// leaves for the grown range come first: once the mapping has grown there is no going back.
bool grow_reservation_in_place(LargeBlock* block, size_t reservation) {
  size_t old_reservation = block->mapped_size;
  return registry_prepare(block->base, reservation) &&
         os_grow_in_place(reinterpret_cast<void*>(block->base), old_reservation, reservation);
}

// Maps a slot-aligned reservation and readies the registry's leaves for it; nullptr if the
// kernel refuses.
void* map_reservation(size_t reservation, size_t alignment) {
  void* memory = os_map_aligned(reservation, alignment, MapCharge::kChargeCommit);
  if (memory && !registry_prepare(reinterpret_cast<uintptr_t>(memory), reservation)) {
    os_unmap(memory, reservation);
    return nullptr;
  }
  return memory;
}

enum class Adoption : uint8_t { kNone, kAdopted, kTargetLost };

// Moves the committed pages of a smaller cached mapping (not a copy: the kernel remaps them)
// to the start of `target`, a fresh reservation of `reservation` bytes, which becomes one
// mapping with them; the rest of the old reservation goes back to the kernel. Gives the
// mapping's descriptor, for the new block, in `*donor_out` and its pages in `*adopted`.
// kNone when the cache has no such mapping; kTargetLost when the kernel refused the move
// after it had unmapped `target` (kernels before 6.16 unmap it before some of their checks),
// which the caller must then leave alone (another thread's mapping may be there already)
// and replace. The old mapping is
// unmapped on a refusal: its pages would have waited in the cache for a request it could
// not hold either. The caller holds g_move_lock, until the block is registered.
//
// Without this, a program that grows a buffer by allocating a bigger one, copying and
// freeing the old one kept the pages of every old buffer in the cache, up to its budget,
// while each new buffer faulted in fresh ones: `grep -z` on 20 MB peaked at 76 MB in fast
// mode, glibc's and mimalloc's at 41 MB.
Adoption adopt_cached_pages(void* target, size_t reservation, LargeBlock** donor_out,
                            size_t* adopted) {
  LargeBlock* donor;
  {
    LockGuard guard(g_lock);
    donor = take_pages_donor_locked(reservation);
  }
  if (!donor) return Adoption::kNone;
  size_t pages = donor->committed_size;
  // Its slots are nobody's from here (a free of its address was a double free, and is now
  // a bad free), before the move gives part of its range back to the kernel: cleared after,
  // they might name another thread's new mapping there.
  registry_set(donor->base, donor->mapped_size, 0);
  // Pages the program split off (mprotect, mlock, madvise on part of a freed buffer) would
  // make the kernel refuse the move, and older kernels refuse it after unmapping the target.
  bool moved =
      os_range_is_one_mapping(reinterpret_cast<void*>(donor->base), pages) != OneMapping::kNo &&
      os_move_mapping(reinterpret_cast<void*>(donor->base), pages, target, reservation);
  if (!moved) {
    bool target_kept = os_range_is_one_mapping(target, reservation) == OneMapping::kYes;
    LockGuard guard(g_lock);
    retire_locked(donor);
    return target_kept ? Adoption::kNone : Adoption::kTargetLost;
  }
  // What is left of the old mapping past the moved pages (with its tail guard, if it had
  // one) is unmapped.
  if (pages < donor->mapped_size)
    os_unmap(reinterpret_cast<void*>(donor->base + pages), donor->mapped_size - pages);
  if (donor->tail_guard) {
    donor->tail_guard = 0;
    g_tail_guard_count.fetch_sub(1, std::memory_order_relaxed);
  }
  g_bytes_mapped.fetch_sub(donor->mapped_size, std::memory_order_relaxed);
  {
    LockGuard guard(g_lock);
    roll_reuse_window_locked(monotonic_milliseconds());
    g_reused_this_window += pages;  // the cache's budget follows reuse
  }
  *donor_out = donor;
  *adopted = pages;
  return Adoption::kAdopted;
}

}  // namespace

void* large_allocate(size_t size, size_t alignment, bool zero) {
  if (size > kMaxRequest || alignment > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t usable = round_to_os_pages(size == 0 ? 1 : size);
  if (alignment <= kSegmentSize) {
    LargeBlock* block;
    uintptr_t base = 0;
    {
      LockGuard guard(g_lock);
      uint32_t now = monotonic_milliseconds();
      purge_expired_locked(now);
      block = take_from_cache_locked(usable, now);
      if (block) {
        block->usable_size = usable;
        base = block->base;
        TALLY_HOLD_POINTER(base);  // the store makes it live
        block->state.store(LargeState::kLive, std::memory_order_release);
        live_insert_locked(block);
      }
    }
    if (block) return reuse(block, base, usable, zero);
  }
  // Mappings start on a registry slot so no two tally mappings share a slot.
  size_t reservation = round_to_slots(usable);
  size_t map_alignment = alignment > kSegmentSize ? alignment : kSegmentSize;
  // A calloc takes no pages over: zeroing them all would make them resident, where fresh
  // pages become resident as they are used, and cached ones may never have been.
  bool may_adopt =
      !zero && __atomic_load_n(&g_cache_committed_bytes, __ATOMIC_RELAXED) >= kMinAdoptedBytes;
  // Held from the move of adopted pages to the block's registration: a leak check that
  // stopped this thread in between would take the new mapping, holding the old block's
  // contents, for the program's own memory and scan it as a root.
  if (may_adopt) g_move_lock.lock();
  void* memory = map_reservation(reservation, map_alignment);
  LargeBlock* block = nullptr;
  size_t adopted = 0;
  if (memory && may_adopt &&
      adopt_cached_pages(memory, reservation, &block, &adopted) == Adoption::kTargetLost)
    memory = map_reservation(reservation, map_alignment);
  if (!block && memory) {
    {
      LockGuard guard(g_lock);
      block = g_spare_descriptors;
      if (block) g_spare_descriptors = block->next;
    }
    if (!block) block = static_cast<LargeBlock*>(metadata_allocate(sizeof(LargeBlock)));
    if (!block) os_unmap(memory, reservation);
  }
  if (!memory || !block) {
    if (may_adopt) g_move_lock.unlock();
    errno = ENOMEM;
    return nullptr;
  }
  block->base = reinterpret_cast<uintptr_t>(memory);
  block->mapped_size = reservation;
  block->usable_size = usable;
  block->committed_size = adopted;
  block->tail_guard = 0;
  place_tail_guard(block);
  block->state.store(LargeState::kLive, std::memory_order_release);
  g_bytes_mapped.fetch_add(reservation, std::memory_order_relaxed);
  // The registry first, the live list second: a leak check reports every block on the
  // list that no pointer reaches, and a pointer reaches only what the registry knows. A
  // thread stopped between the two with the block on the list but not yet in the registry
  // had its new block, held in a register, reported as leaked.
  registry_set(block->base, reservation, registry_value(block));
  if (may_adopt) g_move_lock.unlock();
  {
    LockGuard guard(g_lock);
    live_insert_locked(block);
  }
  return memory;
}

FreeOutcome large_free(LargeBlock* block, uintptr_t address) {
  if (address != block->base) return FreeOutcome::kNotAllocated;
  LargeState expected = LargeState::kLive;
  if (!block->state.compare_exchange_strong(expected, LargeState::kCached,
                                            std::memory_order_acq_rel)) {
    return expected == LargeState::kCached ? FreeOutcome::kDoubleFree : FreeOutcome::kNotAllocated;
  }
  LockGuard guard(g_lock);
  live_remove_locked(block);
  uint32_t now = monotonic_milliseconds();
  purge_expired_locked(now);
  // What the block may have touched: everything up to its largest usable size.
  if (block->usable_size > block->committed_size) block->committed_size = block->usable_size;
  block->cached_at = now;
  if (!make_room_in_cache_locked(block->committed_size, now)) {
    os_decommit(reinterpret_cast<void*>(block->base), block->committed_size);
    block->committed_size = 0;
  }
  g_cache_committed_bytes += block->committed_size;
  block->next = g_cache;
  g_cache = block;
  ++g_cache_count;
  g_cache_bytes += block->mapped_size;
  while (g_cache_count > kCacheLimit || g_cache_bytes > kCacheBytesLimit) {
    // Evict the oldest entry: the tail of the list.
    LargeBlock* previous = nullptr;
    LargeBlock* oldest = g_cache;
    while (oldest->next) previous = oldest, oldest = oldest->next;
    uncache_locked(oldest, previous);
    retire_locked(oldest);
  }
  return FreeOutcome::kFreed;
}

void* large_reallocate(LargeBlock* block, size_t new_size) {
  size_t usable = round_to_os_pages(new_size == 0 ? 1 : new_size);
  if (usable <= block->mapped_size) {
    // Within the reservation: no system call, except to give back a big stale tail.
    LockGuard guard(g_lock);
    if (block->usable_size > block->committed_size) block->committed_size = block->usable_size;
    if (block->committed_size > usable + kTailDecommitThreshold && usable < block->usable_size) {
      os_decommit(reinterpret_cast<char*>(block->base) + usable, block->committed_size - usable);
      block->committed_size = usable;
    }
    g_live_bytes += usable;
    g_live_bytes -= block->usable_size;
    if (g_live_bytes > g_peak_bytes) g_peak_bytes = g_live_bytes;
    block->usable_size = usable;
    place_tail_guard(block);
    return reinterpret_cast<void*>(block->base);
  }
  LockGuard move_guard(g_move_lock);
  // The kernel moves or grows one mapping at a time: the guard's split goes first.
  remove_tail_guard(block);
  // Growing past the reservation: extend it in place if the address space after it is
  // free, else move its pages (no copy) to a new slot-aligned reservation. Growth is at
  // least 1.5x so a loop of small reallocs costs amortized O(1) system calls.
  size_t old_reservation = block->mapped_size;
  size_t reservation = grown_reservation(old_reservation, usable);
  void* old_memory = reinterpret_cast<void*>(block->base);
  uintptr_t new_base;
  if (grow_reservation_in_place(block, reservation)) {
    new_base = block->base;
  } else {
    void* target = os_map_aligned(reservation, kSegmentSize, MapCharge::kChargeCommit);
    if (target && !registry_prepare(reinterpret_cast<uintptr_t>(target), reservation)) {
      os_unmap(target, reservation);
      target = nullptr;
    }
    if (!target) {
      place_tail_guard(block);
      errno = ENOMEM;
      return nullptr;
    }
    if (!os_move_mapping(old_memory, old_reservation, target, reservation)) {
      // The kernel may have unmapped the target before it refused, and another thread's
      // mapping may be there now: unmapped only while it is still the one mapping it was.
      if (os_range_is_one_mapping(target, reservation) == OneMapping::kYes)
        os_unmap(target, reservation);
      place_tail_guard(block);
      errno = ENOMEM;
      return nullptr;
    }
    new_base = reinterpret_cast<uintptr_t>(target);
  }
  g_bytes_mapped.fetch_add(reservation - old_reservation, std::memory_order_relaxed);
  // Publish the new slots before retracting the old ones, so a racing lookup of the
  // block's own address never sees a hole.
  registry_set(new_base, reservation, registry_value(block));
  {
    LockGuard guard(g_lock);
    g_live_bytes += usable;
    g_live_bytes -= block->usable_size;
    if (g_live_bytes > g_peak_bytes) g_peak_bytes = g_live_bytes;
    if (block->usable_size > block->committed_size) block->committed_size = block->usable_size;
    uintptr_t old_base = block->base;
    block->base = new_base;
    block->mapped_size = reservation;
    block->usable_size = usable;
    if (new_base != old_base) {
      // Clear only the old slots the new reservation does not cover, and only those still
      // naming this block: the move gave them back to the kernel, which may have handed
      // them to another thread's new mapping since.
      for (uintptr_t slot = old_base; slot < old_base + old_reservation; slot += kSegmentSize) {
        if (slot < new_base || slot >= new_base + reservation)
          registry_clear_if(slot, kSegmentSize, registry_value(block));
      }
    }
  }
  place_tail_guard(block);
  return reinterpret_cast<void*>(new_base);
}

bool large_extend_in_place(LargeBlock* block, size_t new_size) {
  size_t usable = round_to_os_pages(new_size == 0 ? 1 : new_size);
  if (usable <= block->mapped_size) return true;
  LockGuard move_guard(g_move_lock);
  size_t old_reservation = block->mapped_size;
  size_t reservation = grown_reservation(old_reservation, usable);
  remove_tail_guard(block);  // the kernel grows one mapping at a time
  if (!grow_reservation_in_place(block, reservation)) {
    place_tail_guard(block);
    return false;
  }
  g_bytes_mapped.fetch_add(reservation - old_reservation, std::memory_order_relaxed);
  registry_set(block->base + old_reservation, reservation - old_reservation, registry_value(block));
  {
    LockGuard guard(g_lock);
    block->mapped_size = reservation;
  }
  place_tail_guard(block);
  return true;
}

bool large_enter_quarantine(LargeBlock* block) {
  LargeState expected = LargeState::kLive;
  if (!block->state.compare_exchange_strong(expected, LargeState::kQuarantined,
                                            std::memory_order_acq_rel))
    return false;
  g_quarantined_bytes.fetch_add(block->usable_size, std::memory_order_relaxed);
  LockGuard guard(g_lock);
  live_remove_locked(block);  // quarantined blocks are not live
  return true;
}

// The pages stay committed: the quarantine's bound (a share of the live heap) bounds what
// that holds, and a block that leaves is then reused without faulting every page in again
// (on mstress, decommitting here cost a third of safe mode's time in page faults).
void large_protect_quarantined(LargeBlock* block) {
  protect_pages(block->base, block->usable_size, PROT_NONE);
  block->pages_protected = true;
}

void large_unprotect_quarantined(LargeBlock* block) {
  if (!block->pages_protected) return;
  protect_pages(block->base, block->usable_size, PROT_READ | PROT_WRITE);
  block->pages_protected = false;
}

bool large_open_faulting_pages(LargeBlock* block, uintptr_t address) {
  size_t guard = __atomic_load_n(&block->tail_guard, __ATOMIC_ACQUIRE);
  if (guard && address >= block->base + guard && address < block->base + block->mapped_size) {
    // Taken with an exchange: two threads that fault on it at once open it once, and the
    // count of tail guards drops once.
    size_t taken = __atomic_exchange_n(&block->tail_guard, size_t{0}, __ATOMIC_ACQ_REL);
    if (taken == 0) return true;
    g_tail_guard_count.fetch_sub(1, std::memory_order_relaxed);
    return protect_pages(block->base + taken, block->mapped_size - taken, PROT_READ | PROT_WRITE);
  }
  // All of a quarantined block's pages at once: one report for the block, not one a page
  // (a loop over a freed 10 MiB block), and one mprotect that splits no mapping. The block
  // stays marked protected, so its release verifies no poison it never had.
  if (block->pages_protected)
    return protect_pages(block->base, block->usable_size, PROT_READ | PROT_WRITE);
  return protect_pages(address & ~(kOsPageSize - 1), kOsPageSize, PROT_READ | PROT_WRITE);
}

void large_leave_quarantine(LargeBlock* block) {
  large_unprotect_quarantined(block);
  g_quarantined_bytes.fetch_sub(block->usable_size, std::memory_order_relaxed);
  {
    LockGuard guard(g_lock);
    live_insert_locked(block);  // large_free takes it off the live list again
  }
  uintptr_t base = block->base;
  TALLY_HOLD_POINTER(base);  // live again until large_free has it
  block->state.store(LargeState::kLive, std::memory_order_release);
  large_free(block, base);
  TALLY_HOLD_POINTER(base);
}

LargeBlock* large_move_leaving_husk(LargeBlock* block, size_t new_size, bool* not_live) {
  *not_live = false;
  LockGuard move_guard(g_move_lock);
  size_t usable = round_to_os_pages(new_size == 0 ? 1 : new_size);
  LargeBlock* husk;
  {
    LockGuard guard(g_lock);
    husk = g_spare_descriptors;
    if (husk) g_spare_descriptors = husk->next;
  }
  if (!husk) husk = static_cast<LargeBlock*>(metadata_allocate(sizeof(LargeBlock)));
  if (!husk) return nullptr;
  LargeState expected = LargeState::kLive;
  if (!block->state.compare_exchange_strong(expected, LargeState::kQuarantined,
                                            std::memory_order_acq_rel)) {
    *not_live = true;
    LockGuard guard(g_lock);
    husk->next = g_spare_descriptors;
    g_spare_descriptors = husk;
    return nullptr;
  }
  size_t moved = block->usable_size;
  size_t grown = usable > moved ? usable : moved;
  // A block the program split (mprotect, mlock) cannot move (os_move_pages_leaving_range):
  // known before a cached reservation is taken for it, which the refusal would waste.
  if (os_range_is_one_mapping(reinterpret_cast<void*>(block->base), moved) == OneMapping::kNo) {
    block->state.store(LargeState::kLive, std::memory_order_release);
    LockGuard guard(g_lock);
    husk->next = g_spare_descriptors;
    g_spare_descriptors = husk;
    return nullptr;
  }
  // Growth past the reservation makes it at least 1.5x, as large_reallocate does, so that
  // a buffer grown by small steps moves O(log n) times, not once per slot.
  size_t reservation = grown > block->mapped_size ? grown_reservation(block->mapped_size, grown)
                                                  : round_to_slots(grown);
  // A cached reservation first, as large_allocate does: the husks of earlier moves reach
  // the cache once they leave the quarantine, and a fresh mapping for every move left them
  // there while the process grew (a buffer grown from 300 KiB to 6 MiB and freed, 200
  // times over, peaked at 39 MiB in debug mode, now 13).
  LargeBlock* cached;
  {
    LockGuard guard(g_lock);
    uint32_t now = monotonic_milliseconds();
    purge_expired_locked(now);
    cached = take_from_cache_locked(reservation, now, /*for_moved_pages=*/true);
  }
  void* target;
  if (cached) {
    // The move replaces the whole mapping, guard and all. The guard is opened first so the
    // mapping is one again: after a refusal, that is how we tell whether the kernel kept it.
    remove_tail_guard(cached);
    // Its slots are nobody's from here, before the move: a kernel that unmaps the target
    // and then refuses leaves the range to whoever maps it next, whose slots a later clear
    // would wipe.
    registry_set(cached->base, cached->mapped_size, 0);
    target = reinterpret_cast<void*>(cached->base);
    reservation = cached->mapped_size;
  } else {
    target = os_map_aligned(reservation, kSegmentSize, MapCharge::kChargeCommit);
  }
  // The moved pages take the whole reservation as one mapping (a cached one's pages are
  // replaced): with the rest of it a second mapping, the block spanned two once it grew in
  // place, and its next move, which needs one, fell back to a copy. A buffer grown by 32 KiB
  // steps to 54 MB then alternated copies and moves and peaked at 187 MiB, now 61 (fast: 57).
  if (!target || (!cached && !registry_prepare(reinterpret_cast<uintptr_t>(target), reservation)) ||
      !os_move_pages_leaving_range(reinterpret_cast<void*>(block->base), moved, target,
                                   reservation)) {
    block->state.store(LargeState::kLive, std::memory_order_release);
    // Kernels before 6.16 unmap the target before some of their checks, and another
    // thread's mapping may be there now: a target split into other mappings is left alone.
    // Where the kernel cannot say (no PROCMAP_QUERY, before 6.11) it counts as kept: most
    // refusals (the staging mapping, MREMAP_DONTUNMAP before 5.7) never touch it, and
    // leaving it would leak a reservation at every large realloc there.
    bool target_kept = target && os_range_is_one_mapping(target, reservation) != OneMapping::kNo;
    LockGuard guard(g_lock);
    if (cached)
      retire_locked(cached, target_kept);  // what the failed move left is not worth keeping
    else if (target_kept)
      os_unmap(target, reservation);
    husk->next = g_spare_descriptors;
    g_spare_descriptors = husk;
    return nullptr;
  }
  if (!cached) g_bytes_mapped.fetch_add(reservation, std::memory_order_relaxed);
  uintptr_t new_base = reinterpret_cast<uintptr_t>(target);
  husk->base = block->base;
  husk->mapped_size = block->mapped_size;
  husk->usable_size = moved;
  husk->committed_size = block->committed_size;  // the stale pages past the moved ones
  husk->record = block->record;
  husk->requested_size = block->requested_size;
  husk->mark_flags.store(0, std::memory_order_relaxed);
  husk->pages_protected = true;
  husk->tail_guard = block->tail_guard;  // stays with the old range
  block->tail_guard = 0;
  husk->state.store(LargeState::kQuarantined, std::memory_order_release);
  g_quarantined_bytes.fetch_add(moved, std::memory_order_relaxed);
  {
    LockGuard guard(g_lock);
    live_remove_locked(block);
    block->base = new_base;
    block->mapped_size = reservation;
    block->usable_size = usable;
    block->committed_size = moved;
    live_insert_locked(block);
  }
  place_tail_guard(block);  // before the block is published at its new address
  // The block's new slots first, then the old ones go to the husk: a lookup of either
  // address never sees a hole.
  registry_set(new_base, reservation, registry_value(block));
  registry_set(husk->base, husk->mapped_size, registry_value(husk));
  uintptr_t base = new_base;
  TALLY_HOLD_POINTER(base);  // the store makes it live
  block->state.store(LargeState::kLive, std::memory_order_release);
  TALLY_HOLD_POINTER(base);
  if (cached) {
    // Its reservation is the block's now, and no registry slot names it any more.
    cached->state.store(LargeState::kRetired, std::memory_order_release);
    LockGuard guard(g_lock);
    cached->next = g_spare_descriptors;
    g_spare_descriptors = cached;
  }
  return husk;
}

void large_set_tail_guards(bool enabled, const ProtectionCosts* costs) {
  g_tail_guards = enabled;
  g_tail_guard_costs = costs;
}

LargeBlock* large_tail_guard_owner(uintptr_t address) {
  uintptr_t entry = registry_lookup(address);
  if ((entry & kRegistryKindMask) != kRegistryLarge) return nullptr;
  LargeBlock* block = large_block_of_entry(entry);
  size_t guard = block->tail_guard;
  if (!guard || address < block->base + guard || address >= block->base + block->mapped_size)
    return nullptr;
  return block;
}

LargeBlock* large_block_just_above(uintptr_t address) {
  if (address > UINTPTR_MAX - kOsPageSize) return nullptr;
  uintptr_t entry = registry_lookup(address + kOsPageSize);
  if ((entry & kRegistryKindMask) != kRegistryLarge) return nullptr;
  LargeBlock* block = large_block_of_entry(entry);
  if (address >= block->base || block->base - address > kOsPageSize ||
      block->state.load(std::memory_order_acquire) != LargeState::kLive)
    return nullptr;
  return block;
}

void large_purge_expired() {
  if (!__atomic_load_n(&g_cache_committed_bytes, __ATOMIC_RELAXED)) return;
  if (!g_lock.try_lock()) return;  // whoever holds it purges too
  purge_expired_locked(monotonic_milliseconds());
  g_lock.unlock();
}

size_t large_cached_committed_bytes() {
  return __atomic_load_n(&g_cache_committed_bytes, __ATOMIC_RELAXED);
}

void large_set_cache_committed_floor(size_t bytes) {
  LockGuard guard(g_lock);
  g_cache_committed_floor = bytes;
}

void large_trim_cache() {
  LockGuard guard(g_lock);
  while (LargeBlock* block = g_cache) {
    uncache_locked(block, nullptr);
    retire_locked(block);
  }
}

void large_for_each_live(void (*visit)(LargeBlock* block, void* context), void* context) {
  for (LargeBlock* block = g_live; block; block = block->next) {
    // A free or a quarantine entry changes the state first, then takes the lock to unlink
    // the block; a leak check at exit, holding the lock while threads free large blocks,
    // reported each block caught in between as leaked (unmarked, since the marker only
    // follows pointers into live blocks).
    if (block->state.load(std::memory_order_acquire) == LargeState::kLive) visit(block, context);
  }
}

size_t large_live_count() {
  return g_live_count;
}
size_t large_live_bytes() {
  return g_live_bytes;
}
size_t large_peak_bytes() {
  return g_peak_bytes;
}
size_t large_quarantined_bytes() {
  return g_quarantined_bytes.load(std::memory_order_relaxed);
}

void large_lock_moves_for_fork() {
  g_move_lock.lock();
}
void large_unlock_moves_after_fork(bool in_child) {
  g_move_lock.release_after_fork(in_child);
}

void large_lock_for_fork() {
  g_lock.lock();
}
void large_unlock_after_fork(bool in_child) {
  g_lock.release_after_fork(in_child);
}

}  // namespace tally
