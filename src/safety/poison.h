// The poison of a quarantined block: written over it when it is freed, verified when it
// leaves the quarantine, so that a write after free is caught with the offset it hit.
//
// A big block (debug mode poisons whole blocks) is mostly whole pages, which the program
// has often never touched: filling them faults each one in, and verifying reads them all
// back from memory. Those pages are dropped instead (MADV_DONTNEED: they read as zeros
// and are no longer resident), and verified by asking the kernel which came back
// (mincore): only a page something touched since is read, and any byte in it other than
// zero is a write after free. The bytes around them, part pages at the block's two ends,
// get the pattern as before.
//
// Invariants: poison_first_damage(start, length) verifies exactly what poison_block(start,
// length) wrote, by the same choice of pages; a page the kernel refused to drop keeps the
// pattern, and a page that came back holding only zeros (read after free, or collapsed
// into a huge page by the kernel) is not damage.
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
