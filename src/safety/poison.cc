// The poison of big quarantined blocks, whose whole pages are dropped rather than filled
// (poison.h gives the reasons and the invariants).
#include "safety/poison.h"

#include "os/memory.h"

namespace tally {
namespace {

// The whole pages inside [start, start + length), or an empty range when there are too few
// of them to drop. poison_block and poison_first_damage must agree on it.
struct InnerPages {
  uintptr_t low;
  uintptr_t high;
};

InnerPages inner_pages(uintptr_t start, size_t length) {
  uintptr_t low = (start + kOsPageSize - 1) & ~(kOsPageSize - 1);
  uintptr_t high = (start + length) & ~(kOsPageSize - 1);
  if (high <= low || high - low < kDroppedPoisonMinimumBytes) return InnerPages{start, start};
  return InnerPages{low, high};
}

// A page of the inner range that is backed again: the program (or the kernel) touched it
// after it was dropped. Zeros are what a dropped page reads as, the pattern what a page the
// kernel refused to drop holds; anything else was written. Offset of the first such byte
// in the page, or SIZE_MAX.
size_t first_write_in_page(const uint8_t* page) {
  if (page[0] != kPoisonByte && page[0] != 0) return 0;
  return pattern_first_mismatch(page, kOsPageSize, page[0]);
}

constexpr size_t kPagesAtOnce = 64;

// Calls visit(low, high, resident) for each run of pages of [low, high) that are all
// backed or all not, as far as the kernel tells (without its answer, all backed).
template <typename Visit>
void for_each_residency_run(uintptr_t low, uintptr_t high, Visit&& visit) {
  uint8_t resident[kPagesAtOnce];
  for (; low < high; low += kPagesAtOnce * kOsPageSize) {
    size_t bytes =
        high - low < kPagesAtOnce * kOsPageSize ? high - low : kPagesAtOnce * kOsPageSize;
    size_t pages = bytes / kOsPageSize;
    if (!os_resident_pages(reinterpret_cast<const void*>(low), bytes, resident))
      for (size_t i = 0; i < pages; ++i) resident[i] = 1;
    for (size_t first = 0; first < pages;) {
      bool backed = resident[first] & 1;
      size_t end = first + 1;
      while (end < pages && (resident[end] & 1) == backed) ++end;
      if (!visit(low + first * kOsPageSize, low + end * kOsPageSize, backed)) return;
      first = end;
    }
  }
}

}  // namespace

void poison_block_dropping_pages(void* start, size_t length) {
  uintptr_t address = reinterpret_cast<uintptr_t>(start);
  InnerPages inner = inner_pages(address, length);
  if (inner.low == inner.high) return pattern_fill(start, length, kPoisonByte);
  pattern_fill(start, inner.low - address, kPoisonByte);
  pattern_fill(reinterpret_cast<void*>(inner.high), address + length - inner.high, kPoisonByte);
  for_each_residency_run(inner.low, inner.high, [](uintptr_t low, uintptr_t high, bool backed) {
    void* run = reinterpret_cast<void*>(low);
    // A page out of memory may still hold the program's data in swap: dropping it makes
    // it read as zeros, so that it cannot come back holding anything else.
    if (backed || !os_decommit(run, high - low)) pattern_fill(run, high - low, kPoisonByte);
    return true;
  });
}

size_t poison_first_damage_dropping_pages(const void* start, size_t length) {
  uintptr_t address = reinterpret_cast<uintptr_t>(start);
  InnerPages inner = inner_pages(address, length);
  if (inner.low == inner.high) return pattern_first_mismatch(start, length, kPoisonByte);
  size_t damage = pattern_first_mismatch(start, inner.low - address, kPoisonByte);
  if (damage != SIZE_MAX) return damage;
  for_each_residency_run(inner.low, inner.high, [&](uintptr_t low, uintptr_t high, bool backed) {
    if (!backed) return true;  // never touched since it was dropped
    for (uintptr_t page = low; page < high; page += kOsPageSize) {
      size_t in_page = first_write_in_page(reinterpret_cast<const uint8_t*>(page));
      if (in_page != SIZE_MAX) {
        damage = page + in_page - address;
        return false;
      }
    }
    return true;
  });
  if (damage != SIZE_MAX) return damage;
  damage = pattern_first_mismatch(reinterpret_cast<const void*>(inner.high),
                                  address + length - inner.high, kPoisonByte);
  return damage == SIZE_MAX ? SIZE_MAX : inner.high + damage - address;
}

}  // namespace tally
