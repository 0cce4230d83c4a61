// The roots of a mark besides the threads (mark/world.h): the writable segments of every
// loaded module, found through the dynamic loader's list, and the ranges the program
// registers itself (tally_add_root).
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

void roots_lock_for_fork();
void roots_unlock_after_fork(bool in_child);

}  // namespace tally
