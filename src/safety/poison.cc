// The poison of big quarantined blocks, whose whole pages out of memory are dropped
// rather than filled (poison.h gives the reasons and the invariants).
//
// The whole pages inside the poisoned range are cut into at most 64 groups of consecutive
// pages (a page each, up to 256 KiB). At the free, a group none of whose pages is in memory
// is dropped; any other is filled, which faults in the few pages of it that were not. The
// first group is always filled, and its first 16 bytes say which groups were dropped (the
// drop record), so that the check at release knows what each page must hold: a filled
// page the pattern, a dropped page zeros wherever it is backed again. Without the record
// a filled page that a write after free cleared to zeros would pass for a dropped one.
#include "safety/poison.h"

#include "os/memory.h"

namespace tally {
namespace {

constexpr size_t kMaxGroups = 64;
constexpr uint64_t kPoisonWord = 0x0101010101010101ull * kPoisonByte;
constexpr size_t kRecordBytes = 16;

// The whole pages inside [start, start + length) and how they are grouped, or no pages
// when there are too few of them to drop. poison_block and poison_first_damage must agree
// on it.
struct InnerPages {
  uintptr_t low;
  uintptr_t high;
  size_t pages_per_group;
  size_t groups;
  uintptr_t group_low(size_t group) const { return low + group * pages_per_group * kOsPageSize; }
  uintptr_t group_high(size_t group) const {
    uintptr_t end = group_low(group + 1);
    return end < high ? end : high;
  }
};

InnerPages inner_pages(uintptr_t start, size_t length) {
  uintptr_t low = (start + kOsPageSize - 1) & ~(kOsPageSize - 1);
  uintptr_t high = (start + length) & ~(kOsPageSize - 1);
  if (high <= low || high - low < kDroppedPoisonMinimumBytes) return InnerPages{start, start, 1, 0};
  size_t pages = (high - low) / kOsPageSize;
  size_t per_group = (pages + kMaxGroups - 1) / kMaxGroups;
  return InnerPages{low, high, per_group, (pages + per_group - 1) / per_group};
}

// Groups [first, end) as bits.
uint64_t group_bits(size_t first, size_t end) {
  uint64_t below_end = end == kMaxGroups ? ~uint64_t{0} : (uint64_t{1} << end) - 1;
  return below_end & ~((uint64_t{1} << first) - 1);
}

// Which groups hold a page that is in memory now (bit per group); all of them when the
// kernel cannot tell.
uint64_t groups_in_memory(const InnerPages& inner) {
  constexpr size_t kPagesAtOnce = 64;
  uint8_t resident[kPagesAtOnce];
  uint64_t in_memory = 0;
  size_t page = 0;
  for (uintptr_t low = inner.low; low < inner.high; low += kPagesAtOnce * kOsPageSize) {
    size_t bytes = inner.high - low < kPagesAtOnce * kOsPageSize ? inner.high - low
                                                                 : kPagesAtOnce * kOsPageSize;
    size_t pages = bytes / kOsPageSize;
    if (!os_resident_pages(reinterpret_cast<const void*>(low), bytes, resident))
      return group_bits(0, inner.groups);
    for (size_t i = 0; i < pages; ++i, ++page)
      if (resident[i] & 1) in_memory |= uint64_t{1} << (page / inner.pages_per_group);
  }
  return in_memory;
}

void fill(uintptr_t low, uintptr_t high) {
  pattern_fill(reinterpret_cast<void*>(low), high - low, kPoisonByte);
}

size_t first_mismatch(uintptr_t low, uintptr_t high, uint8_t byte) {
  return pattern_first_mismatch(reinterpret_cast<const void*>(low), high - low, byte);
}

}  // namespace

void poison_block_dropping_pages(void* start, size_t length) {
  uintptr_t address = reinterpret_cast<uintptr_t>(start);
  InnerPages inner = inner_pages(address, length);
  if (inner.groups == 0) return fill(address, address + length);
  fill(address, inner.low);
  fill(inner.high, address + length);
  uint64_t in_memory = groups_in_memory(inner) | 1;  // the first group holds the record
  uint64_t dropped = 0;
  // Runs of groups that are all filled or all dropped: one fill or one system call each.
  for (size_t group = 0; group < inner.groups;) {
    bool keep = (in_memory >> group) & 1;
    size_t end = group + 1;
    while (end < inner.groups && ((in_memory >> end) & 1) == keep) ++end;
    uintptr_t low = inner.group_low(group), high = inner.group_high(end - 1);
    // A page out of memory may still hold the program's bytes in swap: dropping it makes
    // it read as zeros, so that it cannot come back holding anything else.
    if (!keep && os_decommit(reinterpret_cast<void*>(low), high - low))
      dropped |= group_bits(group, end);
    else
      fill(low, high);
    group = end;
  }
  uint64_t record[2] = {dropped ^ kPoisonWord, ~dropped ^ kPoisonWord};
  memcpy(reinterpret_cast<void*>(inner.low), record, sizeof record);
}

size_t poison_first_damage_dropping_pages(const void* start, size_t length) {
  uintptr_t address = reinterpret_cast<uintptr_t>(start);
  InnerPages inner = inner_pages(address, length);
  if (inner.groups == 0) return first_mismatch(address, address + length, kPoisonByte);
  size_t damage = first_mismatch(address, inner.low, kPoisonByte);
  if (damage != SIZE_MAX) return damage;
  // The record: two copies of the dropped groups, the second inverted; a write after free
  // into it (a null pointer, an address) breaks their agreement, and is reported at the
  // record's start.
  uint64_t record[2];
  memcpy(record, reinterpret_cast<const void*>(inner.low), sizeof record);
  uint64_t dropped = record[0] ^ kPoisonWord;
  if ((record[1] ^ kPoisonWord) != ~dropped || (dropped & ~group_bits(1, inner.groups)))
    return inner.low - address;
  uint64_t backed_again = dropped ? groups_in_memory(inner) & dropped : 0;
  for (size_t group = 0; group < inner.groups; ++group) {
    uintptr_t low = inner.group_low(group), high = inner.group_high(group);
    if (group == 0) low += kRecordBytes;
    if ((dropped >> group) & 1) {
      if (!((backed_again >> group) & 1)) continue;  // not touched since it was dropped
      // Pages of the group that are still out of memory read as zeros too (the zero page).
      damage = first_mismatch(low, high, 0);
    } else {
      damage = first_mismatch(low, high, kPoisonByte);
    }
    if (damage != SIZE_MAX) return low + damage - address;
  }
  damage = first_mismatch(inner.high, address + length, kPoisonByte);
  return damage == SIZE_MAX ? SIZE_MAX : inner.high + damage - address;
}

}  // namespace tally
