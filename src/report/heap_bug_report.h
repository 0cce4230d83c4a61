// Reports of heap bugs beyond bad frees (checked modes): use after free, overflow,
// mismatched deallocation, double free with the block's history. Each prints, in
// AddressSanitizer's layout, the access or detection stack, where the address lies
// relative to the block, and the block's free and allocation stacks when recorded.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "report/error_report.h"

namespace tally {

// What the books know about a block, for a report.
struct BlockHistory {
  uintptr_t start;
  size_t size;  // requested size
  uint32_t alloc_stack;
  uint32_t free_stack;
  uint16_t alloc_thread;
  uint16_t free_thread;
  bool freed;
};

// A fault in a guard page or a protected freed block: the access stack starts at `pc`.
void report_guard_fault(const char* kind, uintptr_t address, bool is_write, uintptr_t pc,
                        const BlockHistory& block);
// A fault outside the heap (SIGSEGV or SIGBUS that no handler of the program takes): the
// stack from `pc`, and, when `poisoned_register` is not null, the register that holds a
// value of the freed blocks' poison (a pointer read out of a freed block). The caller then
// lets the signal take its default action.
void report_wild_fault(const char* kind, uintptr_t address, bool address_known, uintptr_t pc,
                       const char* poisoned_register, uintptr_t poisoned_value);
// Canary damaged past the end of the block, found at free or realloc (stack: the free).
void report_overflow_found_at_free(uintptr_t address, const BlockHistory& block, uintptr_t caller);
// Canary damaged around a block still live at exit (canaries_at_exit).
void report_overflow_found_at_exit(uintptr_t address, const BlockHistory& block);
// Poison damaged inside a quarantined block, found when it left the quarantine.
void report_write_after_free(uintptr_t address, const BlockHistory& block);
// A free whose kind does not match the allocation (malloc/delete, new/free, new[]/delete...).
void report_alloc_dealloc_mismatch(uintptr_t address, const char* allocated_with,
                                   const char* freed_with, const BlockHistory& block,
                                   uintptr_t caller);
// A sized operator delete given `deleted_size` for a block new was asked `block.size` for.
void report_new_delete_size_mismatch(uintptr_t address, size_t deleted_size,
                                     const BlockHistory& block, uintptr_t caller);
// A free of an address inside a live block whose history is known.
void report_invalid_free_with_history(uintptr_t address, const BlockHistory& block,
                                      uintptr_t caller);
// A double free of a block whose history is known.
void report_double_free_with_history(uintptr_t address, const BlockHistory& block,
                                     uintptr_t caller);
// A double free of a guarded block whose slot was reused since: `block` is the freed one;
// `now_inside` (size 0 if none) the live block the address now lies inside, which the
// report names too, since a pointer derived from it would make this a bad free instead.
void report_double_free_of_departed(uintptr_t address, const BlockHistory& block,
                                    BlockExtent now_inside, uintptr_t caller);

}  // namespace tally
