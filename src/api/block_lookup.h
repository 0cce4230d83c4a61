// What tally's books say about any address: whose block it is in, whether that block is
// live, freed (or quarantined), and, in the checked modes, the block's record. Used by
// every path that must judge a pointer it was handed: free, realloc, usable size, reports.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/block_record.h"
#include "core/large_blocks.h"
#include "core/segment.h"
#include "report/error_report.h"
#include "report/heap_bug_report.h"
#include "safety/guard_pool.h"

namespace tally {

struct BlockLookup {
  // kInterior: in a live block but not at its start; for a guarded block, anywhere in its
  // slot or guard pages.
  enum Kind { kNotOurs, kLive, kFreed, kInterior } kind;
  enum Where { kNowhere, kSmall, kLarge, kGuarded } where;
  Page* page;
  uint32_t index;
  LargeBlock* large;
  GuardSlot* slot;
  BlockExtent extent;   // the block: start, and size (requested size when it has a record)
  BlockRecord* record;  // checked modes
};

BlockLookup lookup_block(uintptr_t address);
BlockHistory history_of(const BlockLookup& lookup);

}  // namespace tally
