// The allocation paths of the checked modes (safe, debug): blocks carry records, frees go
// through the quarantine with poison, slack carries canaries, some or all small blocks sit
// in the guard-page pool, and every bug found is reported with the block's history.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/heap.h"

namespace tally {

// With `call` kCallCalloc the block comes zeroed (large blocks: only what is not fresh).
void* allocate_checked(size_t size, size_t alignment, ApiCall call);
// allocate_checked's lane for a small block, from `heap` (the calling thread's).
void* allocate_checked_small(Heap* heap, size_t size, ApiCall call);
// `deleted_size`: what a sized operator delete was told the object's size is (0: unsized).
void deallocate_checked(void* pointer, ApiCall call, uintptr_t caller, size_t deleted_size = 0);
void* reallocate_checked(void* pointer, size_t size, ApiCall call, uintptr_t caller);

// Start-up of the checked modes (after the options): guard pool, fault handler, the
// quarantine's release hook. Exit: every quarantined block is verified, and with
// canaries_at_exit the canaries of every live one (after the leak check, see runtime.cc).
void checked_initialize();
void checked_verify_quarantine_at_exit();
void checked_canaries_at_exit();
// In a forked child: drops the claims that releases in other threads had collected and
// not dropped yet (those threads are gone).
void checked_after_fork_in_child();

}  // namespace tally
