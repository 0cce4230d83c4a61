// The stack depot: every distinct stack stored once, named by a 32-bit id, so a block can
// carry its allocation and free stacks in 4 bytes each.
//
// Lookup and insertion are lock-free (a hash table of buckets heading singly linked nodes,
// inserted with compare-and-swap), so put and get are safe from any number of threads, in
// malloc, in signal handlers, before any constructor has run (the storage is mapped on
// first use) and in the child of a fork. There is no lock, so nothing needs doing around
// fork: the child inherits the depot whole; a put that was half done in another thread of
// the parent only leaves an unused node behind.
//
// Memory is bounded: one reservation of `limit` bytes (default 64 MiB, touched only as
// used) holds the bucket array and the nodes. When a stack no longer fits, put returns
// kStackDropped and the drop is counted. Nodes are never freed.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

using StackId = uint32_t;

constexpr StackId kNoStack = 0;                // no stack was captured
constexpr StackId kStackDropped = 0xFFFFFFFF;  // captured, but the depot was full
constexpr int kStackDepotMaxFrames = 256;      // longer stacks are stored truncated
constexpr size_t kStackDepotDefaultLimit = size_t{64} << 20;

// Stores the stack (or finds it stored) and returns its id. `count` <= 0 gives kNoStack.
// Cost when the stack is already stored: a hash of the frames, one bucket load and a
// comparison per node on the bucket's chain (about one).
StackId stack_depot_put(const uintptr_t* frames, int count);
// The hash the depot files a stack of `count` frames (at most kStackDepotMaxFrames) under,
// and the put for a caller that has it already (the stack recorder's cache is keyed by it).
uint64_t stack_depot_hash(const uintptr_t* frames, int count);
StackId stack_depot_put_hashed(const uintptr_t* frames, int count, uint64_t hash);

// Copies up to `capacity` frames of stack `id` into `frames`; returns the stack's length
// (which may exceed `capacity`), or 0 for kNoStack, kStackDropped or an id the depot never
// returned (an id from a corrupted record may give a wrong stack, never a fault).
int stack_depot_get(StackId id, uintptr_t* frames, int capacity);

// Distinct stacks stored, bytes used (bucket array plus nodes), puts dropped when full.
void stack_depot_stats(size_t* stacks, size_t* bytes, size_t* dropped);

// Sets the memory limit (bytes, at least 64 KiB, at most 16 GiB). Takes effect only before
// the first put; returns false when the depot already exists.
bool stack_depot_set_limit(size_t bytes);

// Tests only, with no other thread using the depot: unmaps the depot and forgets every
// stack (ids handed out before become invalid), then sets the limit for the next one.
void stack_depot_reset_for_testing(size_t limit_bytes);

}  // namespace tally
