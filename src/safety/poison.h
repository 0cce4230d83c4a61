// The poison of a quarantined block: written over it when it is freed, verified when it
// leaves the quarantine, so that a write after free is caught with the offset it hit.
//
// A big block (debug mode poisons whole blocks) is mostly whole pages, which the program
// has often never touched: filling them faulted each one in, and verifying read them all
// back from memory. So the whole pages that are out of memory when the block is freed
// (mincore tells) are dropped instead (MADV_DONTNEED: they read as zeros and stay out of
// memory), and the others are filled as before. At release only a dropped page that is
// back in memory is read, and any byte in it other than zero is a write after free. The
// part pages at the block's two ends get the pattern as before.
//
// Invariants: poison_first_damage(start, length) verifies exactly what poison_block(start,
// length) wrote: the same pages, grouped the same way, and a record in the block's first
// whole page says which groups were dropped (poison.cc). A filled page must hold the
// pattern; a dropped one zeros wherever it is backed again (read after free, or collapsed
// into a huge page by the kernel). A page the kernel refused to drop is filled.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "safety/fill_patterns.h"
#include "safety/safety_config.h"

namespace tally {

// The whole pages inside a poisoned range are dropped when there are at least this many
// bytes of them: below that, a system call at free and another at release cost more than
// filling and reading the pages (measured in docs/design.md, "Dropping the pages of big
// freed blocks").
constexpr size_t kDroppedPoisonMinimumBytes = 32 << 10;

void poison_block_dropping_pages(void* start, size_t length);
size_t poison_first_damage_dropping_pages(const void* start, size_t length);

TALLY_INLINE void poison_block(void* start, size_t length) {
  if (TALLY_UNLIKELY(length >= kDroppedPoisonMinimumBytes + kOsPageSize))
    return poison_block_dropping_pages(start, length);
  pattern_fill(start, length, kPoisonByte);
}

// Offset of the first byte of the block's poison that changed, or SIZE_MAX.
TALLY_INLINE size_t poison_first_damage(const void* start, size_t length) {
  if (TALLY_UNLIKELY(length >= kDroppedPoisonMinimumBytes + kOsPageSize))
    return poison_first_damage_dropping_pages(start, length);
  return pattern_first_mismatch(start, length, kPoisonByte);
}

}  // namespace tally
