// Constants that shape the heap, and the few attributes the runtime uses everywhere.
// Changing a constant here must keep the static_asserts in segment.h true.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define TALLY_LIKELY(x) __builtin_expect(!!(x), 1)
#define TALLY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TALLY_INLINE inline __attribute__((always_inline))
#define TALLY_NOINLINE __attribute__((noinline))
#define TALLY_COLD __attribute__((cold, noinline))
#define TALLY_EXPORT __attribute__((visibility("default")))

// Blocks turn live (a bitmap bit cleared, a state stored) at instructions where a leak check
// may stop the thread, and the marker finds live blocks only through pointers, a stopped
// thread's registers and stack included. So a block's address must be held from before it
// turns live until its new owner has it: TALLY_HOLD_POINTER(p) makes the compiler have `p`
// in a register at this point (so it is live from where it was computed to here) and keeps
// the memory operations that follow after it.
#define TALLY_HOLD_POINTER(pointer) __asm__ volatile("" : "+r"(pointer)::"memory")

namespace tally {

// Segments are aligned to their size so the segment of any small block is the block's
// address with the low bits cleared.
constexpr unsigned kSegmentShift = 22;  // 4 MiB
constexpr uintptr_t kSegmentSize = uintptr_t{1} << kSegmentShift;
constexpr uintptr_t kSegmentMask = kSegmentSize - 1;

// A segment is cut into slots; a page of blocks spans one or more consecutive slots.
constexpr unsigned kSlotShift = 16;  // 64 KiB
constexpr uintptr_t kSlotSize = uintptr_t{1} << kSlotShift;
constexpr unsigned kSlotsPerSegment = kSegmentSize / kSlotSize;  // 64
constexpr unsigned kHeaderSlots = 2;  // the segment header (descriptors, bitmaps) lives here

constexpr size_t kMinBlockSize = 16;
constexpr size_t kMaxAlignmentOfMalloc = 16;
constexpr unsigned kMaxBlocksPerPage = kSlotSize / kMinBlockSize;  // 4096
constexpr unsigned kBitmapWords = kMaxBlocksPerPage / 64;          // 64

// User space on x86-64 Linux is 47 bits; the registry covers it at segment granularity.
constexpr unsigned kAddressBits = 47;
constexpr size_t kRegistryEntries = size_t{1} << (kAddressBits - kSegmentShift);

// Requests above this (after alignment) cannot be satisfied on a 64-bit machine and fail
// with ENOMEM before any arithmetic can overflow.
constexpr size_t kMaxRequest = (size_t{1} << 46);

constexpr size_t kOsPageSize = 4096;

}  // namespace tally
