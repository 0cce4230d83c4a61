// Memory for tally's own records (heaps, large-block descriptors): bump-allocated from
// mappings that are never returned, so a record's address stays valid for the life of the
// process and a racing reader can never fault on it. Callers recycle records through
// free lists of their own.
#pragma once

#include <stddef.h>

namespace tally {

// Zeroed, 64-byte aligned, never freed. nullptr when out of address space.
void* metadata_allocate(size_t size);
void metadata_lock_for_fork();
void metadata_unlock_after_fork(bool in_child);

}  // namespace tally
