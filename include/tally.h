/* tally: the heap's bookkeeper.
 *
 * The same allocation API as the C library, under a tally_ prefix, for programs that link
 * tally beside another malloc (the unprefixed names are exported by libtally.so and
 * libtally.a and replace the C library's). Every function here is safe to call from any
 * thread, before main, and from signal-free contexts inside other allocators' hooks.
 */
#ifndef TALLY_H
#define TALLY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TALLY_VERSION "0.1.0"

void* tally_malloc(size_t size);
void tally_free(void* pointer);
void* tally_calloc(size_t count, size_t size);
void* tally_realloc(void* pointer, size_t size);
void* tally_reallocarray(void* pointer, size_t count, size_t size);
int tally_posix_memalign(void** result, size_t alignment, size_t size);
void* tally_aligned_alloc(size_t alignment, size_t size);
void* tally_memalign(size_t alignment, size_t size);
void* tally_valloc(size_t size);
void* tally_pvalloc(size_t size);
size_t tally_malloc_usable_size(const void* pointer);

/* Statistics from tally's own books. Counters are summed over all threads at the time of
 * the call; they are exact when no other thread is allocating. */
struct tally_stats {
  size_t bytes_live;          /* sum of the usable sizes of live blocks */
  size_t bytes_live_peak;     /* high-water mark of bytes_live, sampled on slow paths */
  size_t bytes_mapped;        /* address space reserved from the OS */
  size_t bytes_committed;     /* pages currently backed (not decommitted) */
  size_t resident_bytes;      /* RSS of the process, from /proc/self/statm */
  size_t resident_peak_bytes; /* VmHWM of the process */
  size_t segments;            /* small-block segments in use */
  size_t large_blocks;        /* live blocks with their own mapping */
  size_t bad_frees;           /* errors reported (bad frees and, in safe and debug modes, heap bugs) */
  size_t bytes_quarantined;   /* freed blocks held back in the quarantine (safe, debug) */
};
void tally_get_stats(struct tally_stats* out);
/* Print the statistics report (the one `stats=1` prints at exit) to tally's output. */
void tally_print_stats(void);
/* The mode in effect: "fast", "safe" or "debug". */
const char* tally_mode(void);
/* In safe and debug modes, blocks are reported live by their requested size
 * (malloc_usable_size), while bytes_live counts the size-class blocks they occupy. */
/* Return free memory to the OS now (and, in safe and debug modes, empty the quarantine
 * after verifying it). Returns 1 if anything was released. */
int tally_trim(void);

/* Leak checking (see README, "Leaks"). */

/* Checks for leaks now, with the world stopped while the heap is marked, and writes the
 * report if any are found. Returns the bytes leaked (not counting suppressed leaks). */
size_t tally_check_leaks(void);
/* Registers [start, start + length) as a root: blocks it points to are not leaks. For
 * memory tally cannot see (a custom mmap'ed arena holding pointers to the heap). */
void tally_add_root(const void* start, size_t length);
/* Forgets the root range registered at `start`. */
void tally_remove_root(const void* start);
/* The block at `block` (and whatever it reaches) is never reported as leaked. Ignored while
 * it lives; a block that is freed and reused starts anew. */
void tally_ignore_leak(const void* block);
/* A block the marker never scans: it must not hold the only pointer to another block.
 * For strings and numeric arrays, whose contents could look like pointers. */
void* tally_malloc_atomic(size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TALLY_H */
