// Large blocks: requests above kMaxSmallSize (or with alignments no page can give) get a
// mapping of their own, starting on a registry slot boundary so the registry names its
// descriptor for every slot the mapping covers. Descriptors live in metadata memory, not
// beside the block. Freed mappings wait, decommitted, in a small cache so that programs
// that allocate and free big buffers in a loop do not pay mmap and munmap each time; a
// free of a cached block is still recognised as a double free.
#pragma once

#include <atomic>

#include "core/block_record.h"
#include "core/config.h"
#include "core/heap.h"
#include "core/registry.h"

namespace tally {

// kQuarantined: freed in a checked mode, pages inaccessible, waiting in the quarantine.
enum class LargeState : uint8_t { kLive, kCached, kRetired, kQuarantined };

struct LargeBlock {
  uintptr_t base;         // start of the reservation; the block starts here too
  size_t mapped_size;     // bytes reserved: whole registry slots
  size_t usable_size;     // bytes the program may use (OS pages)
  size_t committed_size;  // bytes from base that may be backed by pages (stale contents)
  std::atomic<LargeState> state;
  uint32_t cached_at;  // monotonic_milliseconds() when it entered the cache
  // Debug mode: the offset from base where the inaccessible rest of the reservation starts,
  // right after the block's last page (0: none), so that any access past the end within
  // the reservation faults. Set while the block is live.
  size_t tail_guard;
  bool pages_protected;   // quarantined with its pages inaccessible (else poisoned)
  BlockRecord record;     // checked modes (its size field is too narrow for large blocks:
  size_t requested_size;  // this is the requested size)
  // The marker's bits (mark/): kMarkedFlag ... kNoScanFlag, cleared when the block is
  // handed out.
  std::atomic<uint8_t> mark_flags;
  LargeBlock* next;      // cache or descriptor free list
  LargeBlock* previous;  // live list
};

// LargeBlock::mark_flags and GuardSlot::mark_flags.
constexpr uint8_t kMarkedFlag = 1;
constexpr uint8_t kIndirectFlag = 2;
constexpr uint8_t kIgnoredFlag = 4;
constexpr uint8_t kNoScanFlag = 8;  // holds no pointers (tally_malloc_atomic)

// With `zero`, the block's memory reads as zero.
void* large_allocate(size_t size, size_t alignment, bool zero);
// Debug mode: every live large block (up to a bound on their number, for the mapping each
// costs) is followed by the rest of its reservation made inaccessible. Blocks are
// page-aligned at their start, so an overflow reaches it when it passes the block's last
// page (from the first byte past the end for sizes that are page multiples); the canary
// covers the rest.
//
// What a guard's move costs is charged to `costs` (null: not counted). A guard that moves
// down over pages a block used before costs their refaults when it moves up again and they
// are touched (under a hypervisor's shadow page tables, microseconds a page): moving down is
// left out when `costs` refuses, and the guard then starts further on.
struct ProtectionCosts {
  bool (*allows)();                                          // may a protection happen now
  uint64_t (*clock)();                                       // a start time for `charge`
  void (*charge)(uint64_t started, size_t pages_refaulted);  // the call, and refaults to come
};
void large_set_tail_guards(bool enabled, const ProtectionCosts* costs = nullptr);
// The live block whose tail guard holds `address`, or nullptr.
LargeBlock* large_tail_guard_owner(uintptr_t address);
// The live block that starts less than a page above `address` (not in it), or nullptr: an
// underflow of a large block. Its reservation starts with the block, and the address space
// below is another mapping's or none, so such an access often faults.
LargeBlock* large_block_just_above(uintptr_t address);
// Frees the block that `address`'s registry entry names, if `address` is its start.
FreeOutcome large_free(LargeBlock* block, uintptr_t address);
// Resizes in place or by moving the mapping; nullptr (errno ENOMEM) if neither works.
void* large_reallocate(LargeBlock* block, size_t new_size);
// Makes the block's reservation hold `new_size` bytes without moving it: true if it does
// already, or once it has grown (at least 1.5x) into free address space after it; false
// if that space is taken. The checked modes' realloc, which must not move a block without
// leaving a husk, grows this way first, as fast mode's does.
bool large_extend_in_place(LargeBlock* block, size_t new_size);
void large_trim_cache();
// Decommits the cached mappings that have waited past the purge delay; rate-limited by the
// callers (slow paths), and a no-op when another thread holds the lock.
void large_purge_expired();
size_t large_cached_committed_bytes();  // pages the cache keeps committed, for statistics
// The cache keeps up to this many bytes of pages committed, or what the program took back
// from it recently when that is more (128 MiB unless changed: tests make it small).
void large_set_cache_committed_floor(size_t bytes);
// Checked modes: a quarantined block's pages may be made inaccessible (any access faults),
// still committed (pages_protected); unprotecting makes them accessible again, and release
// frees the block (unprotecting it first if that was not done).
bool large_enter_quarantine(LargeBlock* block);  // claims it; false if it was not live
void large_protect_quarantined(LargeBlock* block);
void large_unprotect_quarantined(LargeBlock* block);
void large_leave_quarantine(LargeBlock* block);
// Opens what made the access at `address` fault: the block's whole tail guard if the
// address is in it, else the whole quarantined block (it stays marked protected, so its
// release verifies no poison). The access then runs when the fault handler returns
// (halt_on_error=0 reports and carries on). False if the kernel refused (mappings at their
// limit): the access would only fault again.
bool large_open_faulting_pages(LargeBlock* block, uintptr_t address);
// Checked modes' moving realloc without the copy: claims the live `block` (true in
// *not_live if it was not: a double free), moves its pages to a reservation of at least
// `new_size` bytes (a cached one if one is big enough, else a fresh one; growing past the
// old one, at least 1.5x it), which they fill as one mapping, and returns the husk, a new
// descriptor of its old address range (empty, inaccessible, in the quarantined state) that the
// caller fills with the old block's record and puts in the quarantine; `block` stays live at its
// new address. A stale pointer to the old block then faults as if the block had been copied and
// freed. nullptr when the kernel or the metadata refuse; the block is then live and unchanged.
LargeBlock* large_move_leaving_husk(LargeBlock* block, size_t new_size, bool* not_live);
// Visits every live (not cached, not quarantined) large block. Only with no other thread
// changing large blocks (the marker stops the world and holds the lock, see
// large_lock_for_fork); `visit` must not allocate. A block whose free has begun is not
// visited: its state has left kLive, but its thread, stopped while it waited for the lock
// the caller holds, has not yet taken it off the live list.
void large_for_each_live(void (*visit)(LargeBlock* block, void* context), void* context);
size_t large_live_count();
size_t large_live_bytes();
size_t large_peak_bytes();
size_t large_quarantined_bytes();  // bytes of large blocks in quarantine (not on the live list)

void large_lock_for_fork();
void large_unlock_after_fork(bool in_child);
// The lock a move of a block's pages holds throughout. A mover takes other locks under it
// (the large blocks', the metadata arena's), so whoever takes every allocator lock takes
// this one before all of them.
void large_lock_moves_for_fork();
void large_unlock_moves_after_fork(bool in_child);

TALLY_INLINE LargeBlock* large_block_of_entry(uintptr_t registry_entry) {
  return reinterpret_cast<LargeBlock*>(registry_entry & ~uintptr_t{3});
}

}  // namespace tally
