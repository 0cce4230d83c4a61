// The guard pool. Layout of the reservation (G: guard page, D: data pages of a slot):
//   G D0 G D1 G D2 ... G D(n-1) G
// Every slot's data pages have a guard page on each side, and a freed slot's data pages
// are inaccessible until reuse. Where the kernel has guard markers (Linux 6.13), those are
// what makes pages inaccessible: the pool stays one read-write mapping whatever its slots
// do. Elsewhere page protections change with mprotect, and every slot in use is two
// mappings of its own (a shell in debug mode had 1,900 mappings, and each fork copied them
// and each exec tore them down: 12 ms a command). The pool serves sampled allocations (safe
// mode) and small ones (debug mode), not the fast path.
//
// Every protection change is paid from the process's page-protection budget
// (protection_budget.h); when it is empty, allocation refuses and the caller gives an
// unguarded block, with canaries and poison. With two threads on two processors an
// mprotect costs ten times what it costs one thread (the kernel's map lock, and a TLB flush
// that interrupts the other processor), and before the budget debug mode ran 10-40 times
// slower with two threads than with one.
#include "safety/guard_pool.h"

#include <errno.h>
#include <sys/mman.h>

#include "core/metadata_arena.h"
#include "core/registry.h"
#include "os/memory.h"
#include "os/process.h"
#include "safety/protection_budget.h"

namespace tally {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
// A freed block's pages stay committed up to this size (reuse needs no page fault then).
constexpr size_t kCommittedAfterFree = size_t{64} << 10;

SpinLock g_lock;
uint64_t g_guarded = 0;           // under g_lock
uint64_t g_refused_for_time = 0;  // under g_lock
uintptr_t g_start = 0;            // first guard page
size_t g_stride = 0;              // data pages plus one guard page
size_t g_data_size = 0;
size_t g_slot_count = 0;
bool g_left = false;
GuardSlot* g_slots = nullptr;
size_t g_next_unused = 0;  // slots below this have been used at least once
uint32_t g_freed_head = kNone;
uint32_t g_freed_tail = kNone;
size_t g_live = 0;
size_t g_live_bytes = 0;        // the requested sizes of the live blocks
size_t g_live_pages_bytes = 0;  // the pages the live blocks touch (what they hold committed)
bool g_markers = false;         // guard markers instead of PROT_NONE mappings

// Blocks whose slots were reused: where each started, and its record. A free of such an
// address is a double free long after the first (the slot now holds another block, or
// none), and the record still tells who allocated and freed it; without this it read as
// a bad free of an address inside the new block. Each slot remembers the last few
// addresses its blocks started at, most recent first; a later block that started at the
// same address replaces the earlier one's entry (a free of it is described against the
// latest). Under g_lock.
struct DepartedBlock {
  uintptr_t block;
  BlockRecord record;
};
constexpr size_t kDepartedPerSlot = 4;
DepartedBlock* g_departed = nullptr;  // kDepartedPerSlot entries a slot

void remember_departed(size_t index, uintptr_t block, const BlockRecord& record) {
  DepartedBlock* entries = g_departed + index * kDepartedPerSlot;
  size_t shifted = kDepartedPerSlot - 1;  // the oldest goes, unless the address is there
  for (size_t i = 0; i < kDepartedPerSlot; ++i) {
    if (entries[i].block == block) {
      shifted = i;
      break;
    }
  }
  for (size_t i = shifted; i > 0; --i) entries[i] = entries[i - 1];
  entries[0] = DepartedBlock{block, record};
}

uintptr_t data_start(size_t index) {
  return g_start + kOsPageSize + index * g_stride;
}

size_t round_up(size_t value, size_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

void set_protection(uintptr_t start, size_t length, int protection) {
  int saved_errno = errno;
  mprotect(reinterpret_cast<void*>(start), length, protection);
  errno = saved_errno;
}

// set_protection, its cost charged to the budget with the refaults of `pages_touched`.
void set_protection_charged(uintptr_t start, size_t length, int protection, size_t pages_touched) {
  uint64_t started = protection_budget_clock();
  set_protection(start, length, protection);
  protection_budget_charge(started, pages_touched);
}

// Guard pages carry a flag data pages do not (VM_DONTDUMP), so the kernel never merges a
// slot's data pages with its neighbours: every slot in use stays one mapping of its own,
// and protecting or unprotecting it whole changes that mapping in place instead of
// splitting and merging mappings (which cost 80% of a guarded allocation before). Done at
// a slot's first use, not for the whole pool up front: the slots never used stay one
// mapping, and a short program does not start with thousands of mappings that every
// fork() must copy (8,200 had made a fork in debug mode 12 ms instead of 1).
// With guard markers, the slot's two guard pages get theirs (a page the kernel refuses
// one, as in locked memory, becomes inaccessible the other way).
void separate_slot(size_t index) {
  if (g_markers) {
    for (size_t guard : {index, index + 1}) {
      uintptr_t page = g_start + guard * g_stride;
      if (!os_guard_install(reinterpret_cast<void*>(page), kOsPageSize))
        set_protection(page, kOsPageSize, PROT_NONE);
    }
    return;
  }
  int saved_errno = errno;
  madvise(reinterpret_cast<void*>(g_start + index * g_stride), kOsPageSize, MADV_DONTDUMP);
  madvise(reinterpret_cast<void*>(g_start + (index + 1) * g_stride), kOsPageSize, MADV_DONTDUMP);
  errno = saved_errno;
}

// Makes the slot's two guard pages inaccessible again, after a fault opened one.
void restore_guards(size_t index) {
  for (size_t guard : {index, index + 1}) {
    uintptr_t page = g_start + guard * g_stride;
    if (!g_markers || !os_guard_install(reinterpret_cast<void*>(page), kOsPageSize))
      set_protection(page, kOsPageSize, PROT_NONE);
  }
}

}  // namespace

bool guard_pool_initialize(size_t slot_count, size_t max_block_size, bool guard_left,
                           bool markers) {
  if (slot_count == 0 || max_block_size == 0) return false;
  g_data_size = round_up(max_block_size, kOsPageSize);
  g_stride = g_data_size + kOsPageSize;
  size_t total = kOsPageSize + slot_count * g_stride;
  void* region = os_map_aligned(round_up(total, kSegmentSize), kSegmentSize);
  if (!region) return false;
  // Slot 0's left guard tells whether the kernel has guard markers. Slots never used stay
  // accessible then (nothing of the program's is there).
  g_markers = markers && os_guard_install(region, kOsPageSize);
  if (!g_markers) set_protection(reinterpret_cast<uintptr_t>(region), total, PROT_NONE);
  g_slots = static_cast<GuardSlot*>(metadata_allocate(slot_count * sizeof(GuardSlot)));
  if (g_slots)
    g_departed = static_cast<DepartedBlock*>(
        metadata_allocate(slot_count * kDepartedPerSlot * sizeof(DepartedBlock)));
  if (!g_slots || !g_departed ||
      !registry_prepare(reinterpret_cast<uintptr_t>(region), round_up(total, kSegmentSize))) {
    os_unmap(region, round_up(total, kSegmentSize));
    return false;
  }
  g_start = reinterpret_cast<uintptr_t>(region);
  g_slot_count = slot_count;
  g_left = guard_left;
  registry_set(g_start, round_up(total, kSegmentSize), kRegistryGuarded);
  g_guard_pool_enabled = true;
  return true;
}

bool g_guard_pool_enabled = false;

bool guard_pool_uses_markers() {
  return g_markers;
}

void* guard_pool_allocate(size_t size, size_t alignment, const BlockRecord& record,
                          GuardSlot** slot_out) {
  if (g_slot_count == 0 || size > g_data_size || alignment > kOsPageSize) return nullptr;
  if (alignment == 0) alignment = kMaxAlignmentOfMalloc;
  size_t index;
  bool first_use = false;
  bool lifted = false;
  {
    LockGuard guard(g_lock);
    if (!protection_budget_allows()) {
      ++g_refused_for_time;
      protection_budget_note_refusal();
      return nullptr;
    }
    if (g_next_unused < g_slot_count) {
      index = g_next_unused++;
      first_use = true;
    } else if (g_freed_head != kNone) {
      index = g_freed_head;
      g_freed_head = g_slots[index].next_freed;
      if (g_freed_head == kNone) g_freed_tail = kNone;
      remember_departed(index, g_slots[index].block, g_slots[index].record);
    } else {
      return nullptr;  // every slot is live: the caller falls back to an unguarded block
    }
    // Pages opened after a fault (even a slot never used: its neighbour's guard) are closed
    // below, before the block is handed out.
    lifted = g_slots[index].lifted;
    g_slots[index].lifted = false;
    ++g_live;
    __atomic_fetch_add(&g_live_bytes, size, __ATOMIC_RELAXED);  // read without the lock
    ++g_guarded;
  }
  GuardSlot& slot = g_slots[index];
  uintptr_t data = data_start(index);
  if (first_use) separate_slot(index);
  if (lifted) restore_guards(index);
  // Flush against the right guard, rounded down to the alignment (the few bytes of slack
  // that rounding leaves are covered by a canary), or against the left one.
  uintptr_t block = g_left ? data : (data + g_data_size - size) & ~(alignment - 1);
  uintptr_t first_page = block & ~(kOsPageSize - 1);
  uintptr_t end_page = round_up(block + size, kOsPageSize);
  size_t pages_touched = (end_page - first_page) / kOsPageSize;
  __atomic_fetch_add(&g_live_pages_bytes, end_page - first_page, __ATOMIC_RELAXED);
  if (g_markers) {
    // Only the block's own pages are made accessible: the slot's other data pages keep
    // the markers its free left (or get them now, at its first use), so an underflow of a
    // right-flush block (or an overflow of a left-flush one) that leaves the block's page
    // faults too, instead of landing in an unused page of the slot.
    uint64_t started = protection_budget_clock();
    if (slot.data_protected) {
      set_protection(data, g_data_size, PROT_READ | PROT_WRITE);
    } else if (!first_use && !lifted) {
      if (end_page > first_page)
        os_guard_remove(reinterpret_cast<void*>(first_page), end_page - first_page);
    } else {
      // As at first use, after the block's own pages lose whatever markers they kept.
      if (lifted) os_guard_remove(reinterpret_cast<void*>(first_page), end_page - first_page);
      if (first_page > data) os_guard_install(reinterpret_cast<void*>(data), first_page - data);
      uintptr_t data_end = data + g_data_size;
      if (data_end > end_page)
        os_guard_install(reinterpret_cast<void*>(end_page), data_end - end_page);
    }
    // The block's pages were dropped by the markers (or never touched, at first use):
    // each faults in anew. Under mprotect (the fallback) they refault.
    if (slot.data_protected)
      protection_budget_charge(started, pages_touched);
    else
      protection_budget_charge_dropped(started, pages_touched);
    slot.data_protected = false;
  } else {
    // The whole slot, so the protection change never splits its mapping (and a data page
    // guard_pool_lift opened joins the rest again).
    set_protection_charged(data, g_data_size, PROT_READ | PROT_WRITE, pages_touched);
  }
  slot.block = block;
  slot.record = record;
  slot.mark_flags.store(0, std::memory_order_relaxed);
  slot.state.store(GuardSlotState::kLive, std::memory_order_release);
  *slot_out = &slot;
  return reinterpret_cast<void*>(block);
}

uintptr_t guard_pool_data_end(const GuardSlot* slot) {
  return data_start(static_cast<size_t>(slot - g_slots)) + g_data_size;
}

bool guard_pool_contains(uintptr_t address) {
  return address >= g_start && address < g_start + kOsPageSize + g_slot_count * g_stride;
}

GuardSlot* guard_pool_slot_of(uintptr_t address) {
  if (!guard_pool_contains(address)) return nullptr;
  if (address < g_start + kOsPageSize) return &g_slots[0];  // slot 0's left guard
  size_t offset = address - g_start - kOsPageSize;
  size_t index = offset / g_stride;
  bool in_guard = offset % g_stride >= g_data_size;
  // A right guard protects this slot's block in right mode, the next slot's in left mode.
  if (in_guard && g_left && index + 1 < g_slot_count) ++index;
  return &g_slots[index];
}

FreeOutcome guard_pool_free(GuardSlot* slot) {
  GuardSlotState expected = GuardSlotState::kLive;
  if (!slot->state.compare_exchange_strong(expected, GuardSlotState::kFreed,
                                           std::memory_order_acq_rel))
    return expected == GuardSlotState::kFreed ? FreeOutcome::kDoubleFree
                                              : FreeOutcome::kNotAllocated;
  size_t index = static_cast<size_t>(slot - g_slots);
  uintptr_t data = data_start(index);
  uintptr_t first_page = slot->block & ~(kOsPageSize - 1);
  uintptr_t end_page = round_up(slot->block + slot->record.size(), kOsPageSize);
  __atomic_fetch_sub(&g_live_pages_bytes, end_page - first_page, __ATOMIC_RELAXED);
  if (g_markers) {
    // The markers drop the pages too (reuse refaults them, charged then).
    uint64_t started = protection_budget_clock();
    if (!os_guard_install(reinterpret_cast<void*>(data), g_data_size)) {
      set_protection(data, g_data_size, PROT_NONE);
      slot->data_protected = true;
    }
    protection_budget_charge(started, 0);
  } else {
    // The pages stay committed but inaccessible: the pool bounds what that holds (mostly
    // one page per slot), and reuse then costs one mprotect instead of a page fault too.
    set_protection_charged(data, g_data_size, PROT_NONE, 0);  // refaults charged at reuse
    // Except a big block's: slots of up to 256 KiB, all once used by big blocks, would hold
    // a GiB. Its pages go back (they still fault on access: no access, no page).
    if (end_page - first_page > kCommittedAfterFree) {
      int saved_errno = errno;
      madvise(reinterpret_cast<void*>(first_page), end_page - first_page, MADV_DONTNEED);
      errno = saved_errno;
    }
  }
  LockGuard guard(g_lock);
  --g_live;
  __atomic_fetch_sub(&g_live_bytes, slot->record.size(), __ATOMIC_RELAXED);
  slot->next_freed = kNone;
  if (g_freed_tail != kNone)
    g_slots[g_freed_tail].next_freed = static_cast<uint32_t>(index);
  else
    g_freed_head = static_cast<uint32_t>(index);
  g_freed_tail = static_cast<uint32_t>(index);
  return FreeOutcome::kFreed;
}

bool guard_pool_open_faulting_pages(GuardSlot* slot, uintptr_t address, uintptr_t block) {
  LockGuard guard(g_lock);
  if (slot->block != block) return true;
  uintptr_t page = address & ~(kOsPageSize - 1);
  size_t offset = page - g_start;
  uintptr_t start = page;
  size_t length = kOsPageSize;
  if (offset % g_stride == 0) {
    // A guard page: the right one of the slot below it, the left one of the slot above.
    size_t above = offset / g_stride;
    if (above < g_slot_count) g_slots[above].lifted = true;
    if (above > 0) g_slots[above - 1].lifted = true;
  } else {
    size_t index = (offset - kOsPageSize) / g_stride;
    g_slots[index].lifted = true;
    if (g_slots[index].state.load(std::memory_order_acquire) == GuardSlotState::kFreed) {
      start = data_start(index);
      length = g_data_size;
    }
  }
  int saved_errno = errno;
  // Where markers are in use a page may have been protected instead (the kernel refused
  // it a marker): both ways are undone.
  bool opened = (!g_markers || os_guard_remove(reinterpret_cast<void*>(start), length)) &&
                mprotect(reinterpret_cast<void*>(start), length, PROT_READ | PROT_WRITE) == 0;
  errno = saved_errno;
  return opened;
}

bool guard_pool_departed(uintptr_t address, BlockRecord* record) {
  if (!g_guard_pool_enabled) return false;
  GuardSlot* slot = guard_pool_slot_of(address);
  if (!slot) return false;
  LockGuard guard(g_lock);
  const DepartedBlock* entries = g_departed + (slot - g_slots) * kDepartedPerSlot;
  for (size_t i = 0; i < kDepartedPerSlot; ++i) {
    if (entries[i].block == address) {
      *record = entries[i].record;
      return true;
    }
  }
  return false;
}

size_t guard_pool_live_slots() {
  return g_live;
}

size_t guard_pool_live_bytes() {
  return __atomic_load_n(&g_live_bytes, __ATOMIC_RELAXED);
}

size_t guard_pool_live_pages_bytes() {
  return __atomic_load_n(&g_live_pages_bytes, __ATOMIC_RELAXED);
}

GuardPoolStats guard_pool_stats() {
  LockGuard guard(g_lock);
  return GuardPoolStats{g_guarded, g_refused_for_time, g_next_unused};
}

void guard_pool_for_each_live(void (*visit)(GuardSlot* slot, void* context), void* context) {
  size_t used = __atomic_load_n(&g_next_unused, __ATOMIC_ACQUIRE);
  for (size_t i = 0; i < used; ++i) {
    if (g_slots[i].state.load(std::memory_order_acquire) == GuardSlotState::kLive)
      visit(&g_slots[i], context);
  }
}

void guard_pool_lock_for_fork() {
  g_lock.lock();
}
void guard_pool_unlock_after_fork(bool in_child) {
  g_lock.release_after_fork(in_child);
}

}  // namespace tally
