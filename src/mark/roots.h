// The roots of a mark besides the threads (mark/world.h): the writable segments of every
// loaded module, found through the dynamic loader's list, the ranges the program
// registers itself (tally_add_root), and the anonymous memory the program mapped itself.
//
// Modules are listed from inside dl_iterate_phdr, whose callback also stops the world on
// its first call: the loader's lock is then held by the marker itself, so no stopped thread
// can be in the middle of dlopen or dlclose, and the list is complete and stable for the
// whole mark. tally's own module is left out: nothing of the program lives there.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mark/world.h"

namespace tally {

// Calls `on_first_module` (the world stop) once, then collects the writable segments of
// every module. Returns false if on_first_module did. The ranges stay valid until the next
// call.
bool roots_collect_modules(bool (*on_first_module)(void* context), void* context);
int roots_module_count();
MemoryRange roots_module_range(int index);

// Ranges the program registered. Safe from any thread, outside a mark.
void roots_add(uintptr_t start, size_t length);
// Removes the range that starts at `start` (the most recent one, if several do).
bool roots_remove(uintptr_t start);
// Calls `visit` for every registered range. The caller holds the registry's lock
// (roots_lock_for_fork, taken with the allocator's locks before a mark).
void roots_for_each_added(void (*visit)(MemoryRange range, void* context), void* context);

// Threads that exited and may not have been joined: glibc keeps each one's descriptor
// (pthread_t points to it), and in it the value the thread returned or passed to
// pthread_exit, perhaps the only pointer to that block, until pthread_join. The descriptors
// of the last kMaxExitedThreads such threads are roots until their thread is joined or
// detached, or their memory goes away or becomes another thread's.
constexpr int kMaxExitedThreads = 64;
void roots_note_exited_thread(uintptr_t descriptor);  // by the exiting thread
void roots_forget_exited_thread(uintptr_t descriptor);
// Calls `visit` for the part of each noted descriptor that is still mapped and readable (at
// most a page from its start), with the world stopped.
void roots_for_each_exited_thread(void (*visit)(MemoryRange range, void* context), void* context);

// Memory the program mapped itself: anonymous mappings (mmap, brk), such as an
// interpreter's arenas (pymalloc keeps its small objects, and in them pointers to malloc'd
// blocks, in 256 KiB mappings), a custom allocator's pools, a JIT's heap; and private
// writable mappings of files, whose written pages are the program's own copies (the JVM
// keeps malloc'd arrays' addresses in its class-data archive, mapped so). LeakSanitizer
// does not scan such memory and reports what only it points to; Valgrind does, and so
// does this. Left out: tally's own memory (the registry's slots, os/internal_mappings.h),
// the modules' writable segments (roots of their own), the main stack, shared mappings
// (another process's view), and thread stacks (any mapping with glibc's thread control
// block at its top: live threads' stacks are scanned from their stack pointers, and the
// stacks glibc caches for reuse hold only dead frames). Pages not resident (never
// touched, or swapped out) are skipped, as mincore tells. Calls `visit` for each range,
// with the world stopped and the allocator's locks held, and `visit_code` (if not null)
// again for the ranges of anonymous mappings that are writable and executable too: a
// JIT's code, whose instructions hold addresses at any byte offset.
void roots_for_each_program_mapping(void (*visit)(MemoryRange range, void* context),
                                    void (*visit_code)(MemoryRange range, void* context),
                                    void* context);

void roots_lock_for_fork();
void roots_unlock_after_fork(bool in_child);

}  // namespace tally
