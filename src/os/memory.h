// Address space from the kernel. Every call here is a system call or two; none allocates.
// Mappings are readable and writable, and the kernel backs a page when it is first touched;
// os_decommit hands it back.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

// Whether a mapping is charged against the kernel's commit limit. Reservations of tally's
// own (segments, tables, records) are not: most of their pages are never touched. The
// memory of a large block the program asked for is, as glibc's is, so that a request the
// kernel's overcommit policy would refuse (in the default heuristic mode, one bigger than
// RAM and swap together) fails at malloc with ENOMEM instead of succeeding and getting the
// process killed when its pages are touched.
enum class MapCharge { kReserveOnly, kChargeCommit };

// nullptr when the kernel says no; alignment: a power of two >= 4 KiB. os_map is for
// tally's own records and lists them (os/internal_mappings.h); os_map_aligned is for the
// heap (segments, large blocks, the guard pool), which the registry knows.
void* os_map(size_t size, MapCharge charge = MapCharge::kReserveOnly);
void* os_map_aligned(size_t size, size_t alignment, MapCharge charge = MapCharge::kReserveOnly);
void os_unmap(void* address, size_t size);
// Contents become zero, RSS falls. False if the kernel refused (locked memory): the
// contents are then unchanged.
bool os_decommit(void* address, size_t size);
// Which of the pages of [address, address + size) are backed now (mincore): one byte per
// page in `resident`, bit 0 set for a backed page. False if the kernel could not tell, or
// was not asked because the process may filter its system calls (see
// process_may_make_optional_calls): callers then act as if every page were backed.
bool os_resident_pages(const void* address, size_t size, uint8_t* resident);
// Backs the pages now, in one system call, where touching them one by one would fault once a
// page (on a virtual machine with shadow page tables, twice the time: bench/page_costs).
// A hint: nothing happens on kernels without MADV_POPULATE_WRITE (5.14).
void os_populate(void* address, size_t size);
// Marks the range as a candidate for transparent huge pages (MADV_HUGEPAGE), so that with
// the system's setting at "madvise" (Debian's and most distributions' default) a fault in an
// aligned 2 MiB part of it backs the whole part at once. False when the kernel has no
// transparent huge pages; the range is then unchanged.
bool os_advise_huge_pages(void* address, size_t size);
// The opposite (MADV_NOHUGEPAGE): the range faults in 4 KiB at a time whatever the system's
// setting.
void os_advise_small_pages(void* address, size_t size);
// Guard markers (Linux 6.13): any access to the range faults (SIGSEGV), without a mapping
// of its own and without changing the range's protection; installing drops the pages'
// contents. False when the kernel has no guard markers (or refuses, as for locked memory).
bool os_guard_install(void* address, size_t size);
bool os_guard_remove(void* address, size_t size);
// Moves the pages of [old, old+old_size) to new_address (a mapping of new_size made by
// os_map_aligned), growing them to new_size; no copy. False if the kernel refused.
bool os_move_mapping(void* old_address, size_t old_size, void* new_address, size_t new_size);
// Grows a mapping in place when the address space after it is free.
bool os_grow_in_place(void* address, size_t old_size, size_t new_size);
// Moves the pages of [old_address, +old_size) to new_address (which must be mapped for
// new_size bytes), growing them to new_size (or shrinking), without copying; the old range
// stays mapped, empty (it reads as zero) and inaccessible. The moved pages end up as one
// kernel mapping whatever the old range was, so moving a block again and again does not
// multiply mappings. False, with the pages still at old_address, where the kernel cannot
// (MREMAP_DONTUNMAP needs Linux 5.7) or refuses (the process is near vm.max_map_count).
// The old range must be one mapping (os_range_is_one_mapping, which the caller asks before
// it readies new_address): Linux 6.17 moves several one by one, and a refusal halfway would
// leave part of the block elsewhere.
bool os_move_pages_leaving_range(void* old_address, size_t old_size, void* new_address,
                                 size_t new_size);

// Whether [address, +size) lies in one kernel mapping: kYes, kNo, or kUnknown where the
// kernel cannot say cheaply (PROCMAP_QUERY needs Linux 6.11).
enum class OneMapping { kYes, kNo, kUnknown };
OneMapping os_range_is_one_mapping(const void* address, size_t size);

}  // namespace tally
