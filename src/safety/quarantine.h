// The quarantine: freed blocks are held back, first in, first out, until the bytes held
// exceed a bound; only then are they really freed. Each thread fills a batch of its own
// (no lock); a full batch, or one past the thread's share, goes to the global FIFO under
// a lock, and the oldest batches leave it when the global bound is passed.
//
// Batches are out-of-band arrays of addresses in metadata memory, never links inside the
// freed blocks, so a write after free cannot corrupt the quarantine and a stale link can
// never look like a pointer to the marker.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

struct Heap;
struct QuarantineBatch;

// Called with the blocks of a batch as they leave, oldest first: verify their poison and
// free them for real. A whole batch at a time, so that the release can share work between
// the blocks (one atomic operation per bitmap word rather than one per block).
using QuarantineRelease = void (*)(const uintptr_t* blocks, uint32_t count);
void quarantine_set_release(QuarantineRelease release);
QuarantineRelease quarantine_release();

// Holds `block` (of `bytes` bytes) back on behalf of `heap` (the freeing thread's heap;
// nullptr when the thread has none, then it goes straight to the global FIFO).
void quarantine_put(Heap* heap, uintptr_t block, size_t bytes);
// Moves the heap's batch to the global FIFO (thread exit).
void quarantine_flush_heap(Heap* heap);
// Releases every quarantined block now (tally_trim).
void quarantine_drain();
// Shows `verify` every block held in the global FIFO, the calling thread's batch and the
// batches handed back to threads, and keeps them all held (process exit). Other live
// threads' unpublished batches are not visited: they are being written meanwhile.
void quarantine_verify_held(QuarantineRelease verify);
size_t quarantine_bytes_held();

void quarantine_lock_for_fork();
void quarantine_unlock_after_fork(bool in_child);

}  // namespace tally
