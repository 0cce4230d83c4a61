// Canaries: the slack between a block's requested size and the bytes it spans is filled
// with kCanaryByte at allocation and verified at free, at realloc and (canaries_at_exit)
// at exit, so a write past the end is found even where no guard page follows. A guarded
// block also has a front canary, the bytes of its first page before it (it alone has its
// page to itself), so an underflow write is found too. At most kMaxCanaryBytes are filled
// on either side (overflows are caught near the block), except after a block spanning more
// than the biggest small block (canary_length says why).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/size_classes.h"
#include "safety/fill_patterns.h"
#include "safety/safety_config.h"

namespace tally {

// The canary's bytes after a block of `size` bytes spanning `span` (span > size): the
// slack, at most kMaxCanaryBytes of it; but a large block's, to the end of the page where
// its slack starts. A large block starts its reservation, so its slack is the rest of its
// last page (more only after it shrank in place), and nothing else catches a write there:
// debug mode's tail guard starts at the next page, and a write 300 bytes past the end of a
// 300,000-byte block went unreported in every mode (memcheck reports it). The canary's first
// byte touches that page anyway, so covering the rest of it costs a fill, not a fault.
TALLY_INLINE size_t canary_length(uintptr_t block, size_t size, size_t span) {
  size_t slack = span - size;
  size_t covered = kMaxCanaryBytes;
  if (span > kMaxSmallSize) {
    size_t to_page_end = kOsPageSize - ((block + size) & (kOsPageSize - 1));
    if (to_page_end > covered) covered = to_page_end;
  }
  return slack < covered ? slack : covered;
}

// `span`: the bytes the block spans (its class size, its pages); nothing to fill when the
// request took them all.
TALLY_INLINE void fill_canary(uintptr_t block, size_t size, size_t span) {
  if (!g_safety.canaries || span <= size) return;
  pattern_fill(reinterpret_cast<void*>(block + size), canary_length(block, size, span),
               kCanaryByte);
}

// Offset past the requested size of the first damaged canary byte, or SIZE_MAX.
TALLY_INLINE size_t damaged_canary(uintptr_t block, size_t size, size_t span) {
  if (!g_safety.canaries || span <= size) return SIZE_MAX;
  return pattern_first_mismatch(reinterpret_cast<void*>(block + size),
                                canary_length(block, size, span), kCanaryByte);
}

TALLY_INLINE uintptr_t front_canary_start(uintptr_t block) {
  uintptr_t page_start = block & ~(kOsPageSize - 1);
  return block - page_start < kMaxCanaryBytes ? page_start : block - kMaxCanaryBytes;
}

// Guarded blocks only.
TALLY_INLINE void fill_front_canary(uintptr_t block) {
  if (!g_safety.canaries) return;
  uintptr_t low = front_canary_start(block);
  pattern_fill(reinterpret_cast<void*>(low), block - low, kCanaryByte);
}

// The address of the damaged canary byte farthest before the block, or 0.
TALLY_INLINE uintptr_t damaged_front_canary(uintptr_t block) {
  if (!g_safety.canaries) return 0;
  uintptr_t low = front_canary_start(block);
  size_t damaged = pattern_first_mismatch(reinterpret_cast<void*>(low), block - low, kCanaryByte);
  return damaged == SIZE_MAX ? 0 : low + damaged;
}

// The span a guarded block's canary covers: up to the end of its last page (a right-flush
// block's slack before its guard page, a left-flush block's rest of the page).
TALLY_INLINE size_t guarded_canary_span(uintptr_t block, size_t size) {
  uintptr_t end = block + size;
  return ((end + kOsPageSize - 1) & ~(kOsPageSize - 1)) - block;
}

}  // namespace tally
