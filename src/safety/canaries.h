// Canaries: the slack between a block's requested size and the bytes it spans is filled
// with kCanaryByte at allocation and verified at free, at realloc and (canaries_at_exit)
// at exit, so a write past the end is found even where no guard page follows. A guarded
// block also has a front canary, the bytes of its first page before it (it alone has its
// page to itself), so an underflow write is found too. At most kMaxCanaryBytes are filled
// on either side: overflows are caught near the block.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "safety/fill_patterns.h"
#include "safety/safety_config.h"

namespace tally {

// `span`: the bytes the block spans (its class size, its pages); nothing to fill when the
// request took them all.
TALLY_INLINE void fill_canary(uintptr_t block, size_t size, size_t span) {
  if (!g_safety.canaries || span <= size) return;
  size_t slack = span - size;
  pattern_fill(reinterpret_cast<void*>(block + size),
               slack < kMaxCanaryBytes ? slack : kMaxCanaryBytes, kCanaryByte);
}

// Offset past the requested size of the first damaged canary byte, or SIZE_MAX.
TALLY_INLINE size_t damaged_canary(uintptr_t block, size_t size, size_t span) {
  if (!g_safety.canaries || span <= size) return SIZE_MAX;
  size_t slack = span - size;
  return pattern_first_mismatch(reinterpret_cast<void*>(block + size),
                                slack < kMaxCanaryBytes ? slack : kMaxCanaryBytes, kCanaryByte);
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
