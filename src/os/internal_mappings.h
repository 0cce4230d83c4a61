// The mappings tally makes for its own records (os_map: tables, depots, mark books, block
// records), kept so that a scan of the process's anonymous memory for pointers (the leak
// check's roots in memory the program mapped itself) can leave them out. Their words
// include the addresses of heap blocks (a large block's descriptor, the quarantine's
// lists), which would otherwise keep every such block from ever being reported.
//
// Segments, large blocks and the guard pool are not here: the registry knows them.
// An open-addressed table under a spin lock, on the mapping paths only (each next to a
// system call). While the leak check holds every allocator lock (internal_mappings_lock,
// taken last), its own thread keeps mapping and unmapping without the lock, and no other
// thread can be halfway through a change.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

void internal_mappings_add(uintptr_t start, size_t size);
void internal_mappings_remove(uintptr_t start);  // no effect on a start never added

// Copies up to `capacity` mappings as [start, end) pairs into `ranges` (2 words each) and
// returns how many there are in all. Call with the lock held (internal_mappings_lock).
size_t internal_mappings_copy(uintptr_t* ranges, size_t capacity);

// For fork and for the leak check: taken after every other allocator lock.
void internal_mappings_lock();
void internal_mappings_unlock_after_fork(bool in_child);  // also the check's unlock

}  // namespace tally
