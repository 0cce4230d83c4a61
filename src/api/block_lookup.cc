// Judging an address against the books. Reads racily where another thread may be changing
// the block: the answer is a snapshot, which is all a report or a check can have.
#include "api/block_lookup.h"

#include "core/registry.h"

namespace tally {
namespace {

bool bit_set(const std::atomic<uint64_t>* words, uint32_t index) {
  return words[index >> 6].load(std::memory_order_acquire) & (uint64_t{1} << (index & 63));
}

// `span`: the bytes the block really occupies (its size class, or its pages), which may
// be more than the size in `extent`.
void classify(BlockLookup& result, uintptr_t address, bool live, bool freed, size_t span) {
  bool inside = address >= result.extent.start && address < result.extent.start + span;
  if (address == result.extent.start && (live || freed)) {
    result.kind = live ? BlockLookup::kLive : BlockLookup::kFreed;
  } else if (live && inside) {
    result.kind = BlockLookup::kInterior;
  } else {
    result.kind = BlockLookup::kNotOurs;
    result.extent = {0, 0};
  }
}

}  // namespace

BlockLookup lookup_block(uintptr_t address) {
  BlockLookup result{
      BlockLookup::kNotOurs, BlockLookup::kNowhere, nullptr, 0, nullptr, nullptr, {0, 0}, nullptr};
  uintptr_t entry = registry_lookup(address);
  if (entry == kRegistrySegment) {
    Page* page = page_of(segment_of(address), address);
    uintptr_t start = __atomic_load_n(&page->start, __ATOMIC_ACQUIRE);
    if (start == 0 || address < start) return result;
    uint64_t index = ((address - start) * page->reciprocal) >> kReciprocalShift;
    if (index >= page->capacity) return result;
    result.where = BlockLookup::kSmall;
    result.page = page;
    result.index = static_cast<uint32_t>(index);
    result.record = page->records ? record_of(page, result.index) : nullptr;
    size_t size = result.record ? result.record->size() : page->block_size;
    result.extent = {start + index * page->block_size, size};
    bool freed = bit_set(page->free_bits, result.index) ||
                 bit_set(page->remote_bits, result.index) ||
                 bit_set(page->quarantine_bits, result.index);
    classify(result, address, !freed, freed, page->block_size);
    return result;
  }
  if ((entry & kRegistryKindMask) == kRegistryLarge) {
    LargeBlock* block = large_block_of_entry(entry);
    LargeState state = block->state.load(std::memory_order_acquire);
    result.where = BlockLookup::kLarge;
    result.large = block;
    result.record = g_keep_block_records ? &block->record : nullptr;
    result.extent = {block->base, result.record ? block->requested_size : block->usable_size};
    if (address >= block->base + block->usable_size) {
      result.extent = {0, 0};
      return result;
    }
    bool live = state == LargeState::kLive;
    bool freed = state == LargeState::kCached || state == LargeState::kQuarantined;
    classify(result, address, live, freed, block->usable_size);
    return result;
  }
  if (entry == kRegistryGuarded) {
    GuardSlot* slot = guard_pool_slot_of(address);
    if (!slot) return result;
    GuardSlotState state = slot->state.load(std::memory_order_acquire);
    if (state == GuardSlotState::kUnused) return result;
    result.where = BlockLookup::kGuarded;
    result.slot = slot;
    result.record = &slot->record;
    result.extent = {slot->block, slot->record.size()};
    // No other block has a byte in the slot's pages or its guard pages, so while the block
    // lives any address there is described against it (free(p + size) of a block that
    // ends at its guard page: "0 bytes to the right of").
    bool live = state == GuardSlotState::kLive;
    if (address == slot->block && (live || state == GuardSlotState::kFreed)) {
      result.kind = live ? BlockLookup::kLive : BlockLookup::kFreed;
    } else if (live) {
      result.kind = BlockLookup::kInterior;
    } else {
      result.kind = BlockLookup::kNotOurs;
      result.extent = {0, 0};
    }
  }
  return result;
}

BlockHistory history_of(const BlockLookup& lookup) {
  BlockHistory history{
      lookup.extent.start, lookup.extent.size, 0, 0, 0, 0, lookup.kind == BlockLookup::kFreed};
  if (const BlockRecord* record = lookup.record) {
    history.alloc_stack = record->alloc_stack;
    history.alloc_thread = record->alloc_thread;
    history.free_stack = record->free_stack;
    history.free_thread = record->free_thread;
    history.freed = history.freed || record->free_stack != 0;
  }
  return history;
}

}  // namespace tally
