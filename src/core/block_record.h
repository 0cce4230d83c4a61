// What the checked modes (safe, debug) remember about each block, out of band: the size
// the program asked for (canaries guard the rest of the block), how it was allocated
// (mismatch checks), and where and by which thread it was allocated and freed (reports).
// Small blocks keep their records in a side mapping per segment, indexed like the
// bitmaps; large and guarded blocks keep one in their descriptor. In fast mode there are
// no records at all.
#pragma once

#include <stdint.h>

#include "core/config.h"

namespace tally {

// How a block was allocated or is being freed; a free must match its allocation.
enum class AllocationKind : uint8_t {
  kMalloc = 0,      // malloc family, freed by free/realloc
  kNew = 1,         // operator new, freed by operator delete
  kNewArray = 2,    // operator new[], freed by operator delete[]
  kNewAligned = 3,  // aligned operator new, freed by aligned operator delete
  kNewArrayAligned = 4,
};

const char* allocation_kind_name(AllocationKind kind, bool for_free);

struct BlockRecord {
  uint32_t requested_size;  // low 24 bits: bytes asked for (small blocks are <= 256 KiB)
  uint32_t alloc_stack;     // stack depot id, 0 if not captured
  uint32_t free_stack;      // stack depot id of the last free, 0 if none
  uint16_t alloc_thread;
  uint16_t free_thread;

  size_t size() const { return requested_size & 0xFFFFFF; }
  AllocationKind kind() const { return static_cast<AllocationKind>(requested_size >> 24); }
  // Sizes past 24 bits (large blocks keep theirs elsewhere) must not spill into the kind.
  void set(size_t size, AllocationKind kind) {
    requested_size = static_cast<uint32_t>(size & 0xFFFFFF) | (static_cast<uint32_t>(kind) << 24);
  }
  // A new block's whole record, written in place with two word stores (rather than built
  // field by field on the stack and copied).
  void store_fresh(size_t size, AllocationKind kind, uint32_t stack, uint16_t thread) {
    uint64_t words[2];
    words[0] = (static_cast<uint64_t>(stack) << 32) | static_cast<uint32_t>(size & 0xFFFFFF) |
               (static_cast<uint32_t>(kind) << 24);
    words[1] = static_cast<uint64_t>(thread) << 32;  // no free stack, no free thread
    __builtin_memcpy(this, words, sizeof(words));
  }
};
static_assert(sizeof(BlockRecord) == 16);

// Set once at start-up, before the first segment exists: segments then carry records.
extern bool g_keep_block_records;

}  // namespace tally
