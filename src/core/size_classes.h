// Size classes: 16-byte steps up to 128 bytes, then four classes per power of two up to
// kMaxSmallSize, so a block wastes at most 25% of its size (20% on average). Blocks above
// kMaxSmallSize get a mapping of their own (large_blocks.h).
//
// Invariants (checked by tests/unit/size_classes_test.cc): class sizes strictly increase,
// every size maps to the smallest class that holds it, every class size is a multiple of
// 16, and a page of a class holds at least kMinBlocksPerPage blocks and at most
// kMaxBlocksPerPage, in at most kMaxSlotsPerPage slots.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <array>

#include "core/config.h"

namespace tally {

constexpr size_t kMaxSmallSize = 256 * 1024;
constexpr unsigned kClassCount = 52;
constexpr unsigned kMinBlocksPerPage = 2;
// Pages of big blocks span several slots, at most this many: bigger spans fragment
// segments (a run of free slots is harder to find) more than they save.
constexpr unsigned kMaxSlotsPerPage = 8;
constexpr unsigned kTargetBlocksPerPage = 8;
constexpr size_t kSmallLookupLimit = 1024;  // sizes up to here use one table load

struct SizeClassInfo {
  uint32_t block_size;
  uint8_t slot_count;   // 64 KiB slots a page of this class spans
  uint32_t capacity;    // blocks per page
  uint64_t reciprocal;  // ceil(2^kReciprocalShift / block_size), for exact offset division
};
constexpr unsigned kReciprocalShift = 40;

namespace size_class_detail {

constexpr uint32_t block_size_of_class(unsigned index) {
  if (index < 8) return 16 * (index + 1);  // 16 .. 128
  unsigned group = (index - 8) / 4;        // group 0 covers (128, 256]
  unsigned step = (index - 8) % 4;
  uint32_t base = 128u << group;
  return base + (base / 4) * (step + 1);
}

constexpr uint8_t slot_count_of_block_size(uint32_t block_size) {
  uint8_t slots = 1;
  while (slots < kMaxSlotsPerPage && slots * kSlotSize / block_size < kTargetBlocksPerPage)
    slots *= 2;
  return slots;
}

constexpr std::array<SizeClassInfo, kClassCount> make_classes() {
  std::array<SizeClassInfo, kClassCount> classes{};
  for (unsigned i = 0; i < kClassCount; ++i) {
    uint32_t size = block_size_of_class(i);
    uint8_t slots = slot_count_of_block_size(size);
    uint32_t capacity = static_cast<uint32_t>(slots * kSlotSize / size);
    if (capacity > kMaxBlocksPerPage) capacity = kMaxBlocksPerPage;
    uint64_t reciprocal = ((uint64_t{1} << kReciprocalShift) + size - 1) / size;
    classes[i] = SizeClassInfo{size, slots, capacity, reciprocal};
  }
  return classes;
}

}  // namespace size_class_detail

inline constexpr std::array<SizeClassInfo, kClassCount> g_size_classes =
    size_class_detail::make_classes();
static_assert(g_size_classes[kClassCount - 1].block_size == kMaxSmallSize);
static_assert(g_size_classes[0].block_size == kMinBlockSize);

namespace size_class_detail {
constexpr std::array<uint8_t, kSmallLookupLimit / 16 + 1> make_small_lookup() {
  std::array<uint8_t, kSmallLookupLimit / 16 + 1> table{};
  unsigned size_class = 0;
  for (unsigned i = 0; i < table.size(); ++i) {
    size_t size = i == 0 ? 1 : i * 16;
    while (g_size_classes[size_class].block_size < size) ++size_class;
    table[i] = static_cast<uint8_t>(size_class);
  }
  return table;
}
}  // namespace size_class_detail

inline constexpr std::array<uint8_t, kSmallLookupLimit / 16 + 1> g_small_size_to_class =
    size_class_detail::make_small_lookup();

// The class of a request of `size` bytes, size <= kMaxSmallSize.
TALLY_INLINE unsigned size_class_of(size_t size) {
  if (TALLY_LIKELY(size <= kSmallLookupLimit)) return g_small_size_to_class[(size + 15) >> 4];
  // Four classes per power of two: the top bit picks the group, the next two the step.
  size_t rounded = size - 1;
  unsigned top = 63 - static_cast<unsigned>(__builtin_clzll(rounded));  // >= 10
  unsigned step = static_cast<unsigned>(rounded >> (top - 2)) & 3;
  return 8 + (top - 7) * 4 + step;
}

// The smallest class that holds `size` bytes with every block aligned to `alignment`, or
// kClassCount if none does (the request then goes to a large block).
unsigned size_class_for_alignment(size_t size, size_t alignment);

// Blocks that hold no pointers (tally_malloc_atomic) live in pages of their own, so the
// marker skips them by the page: a heap keeps pages of class c + kClassCount for them.
// `heap class` below means such an index, 0 .. kHeapClassCount - 1.
constexpr unsigned kHeapClassCount = 2 * kClassCount;
TALLY_INLINE unsigned no_scan_class(unsigned size_class) {
  return size_class + kClassCount;
}
TALLY_INLINE unsigned base_class(unsigned heap_class) {
  return heap_class >= kClassCount ? heap_class - kClassCount : heap_class;
}
TALLY_INLINE bool is_no_scan_class(unsigned heap_class) {
  return heap_class >= kClassCount;
}

// Alignment every block of the class is guaranteed to have, given pages start on slot
// boundaries: the lowest set bit of the block size, at most the slot size.
TALLY_INLINE size_t size_class_alignment(unsigned size_class) {
  size_t block_size = g_size_classes[size_class].block_size;
  size_t lowest_bit = block_size & (~block_size + 1);
  return lowest_bit < kSlotSize ? lowest_bit : kSlotSize;
}

}  // namespace tally
