// Error reports, in AddressSanitizer's layout so every parser and every eye knows them.
// One function per error kind; each formats into a stack buffer, never allocates through
// tally's books, serialises with other reports, and either ends the process
// (halt_on_error=1, status `exitcode`) or returns so the caller can ignore the bad call.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

struct BlockExtent {
  uintptr_t start;
  size_t size;  // usable size; 0 when the address lies in no block
};

struct ReportPolicy {
  bool halt_on_error;
  int exitcode;
};
void report_set_policy(ReportPolicy policy);

// `caller_pc` is the return address into the program from tally's entry point, so the
// report's stack starts at the program's frame; 0 if unknown.
void report_double_free(uintptr_t address, BlockExtent block, uintptr_t caller_pc);
void report_invalid_free(uintptr_t address, BlockExtent containing_block, uintptr_t caller_pc);
// A double free found while harvesting other threads' frees: the stack is the harvester's.
void report_late_double_free(uintptr_t address, size_t block_size);
// A value tally does not understand in its options.
void report_option_problem(const char* message, const char* key, size_t key_length);

size_t report_count();

// The lock that orders reports (report_writer.cc). Release ends the process instead when
// the report is about memory corruption and halt_on_error is set (keeping the lock, so no
// other report follows). A report taken `counted` is an error in report_count; one that
// may turn out to report nothing (a leak check) counts itself with report_count_error.
void report_lock_acquire(bool counted = true);
void report_count_error();
void report_lock_release_or_die(int pid, bool memory_corrupting);

}  // namespace tally
