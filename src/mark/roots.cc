// Module roots from dl_iterate_phdr, and the registry of the program's own roots (a small
// mapped array under a spin lock).
#include "mark/roots.h"

#include <link.h>
#include <string.h>

#include "core/registry.h"
#include "os/mapped_array.h"
#include "os/memory.h"
#include "os/process.h"

namespace tally {
namespace {

constexpr int kMaxModuleRanges = 8192;
MemoryRange* g_modules = nullptr;
int g_module_count = 0;

struct CollectContext {
  bool (*on_first_module)(void*);
  void* context;
  bool first;
  bool failed;
};

int collect(struct dl_phdr_info* info, size_t, void* raw) {
  CollectContext& collect = *static_cast<CollectContext*>(raw);
  if (collect.first) {
    collect.first = false;
    if (!collect.on_first_module(collect.context)) {
      collect.failed = true;
      return 1;  // stop iterating
    }
  }
  // tally's own module, when tally is a shared library: the one whose segments hold its
  // ELF header. (Linked into a program, tally's data is the program's and stays in.)
  if (__start_tally_text == nullptr) {
    uintptr_t own = reinterpret_cast<uintptr_t>(__ehdr_start);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const ElfW(Phdr)& header = info->dlpi_phdr[i];
      uintptr_t low = info->dlpi_addr + header.p_vaddr;
      if (header.p_type == PT_LOAD && own >= low && own < low + header.p_memsz) return 0;
    }
  }
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD || !(header.p_flags & PF_W)) continue;
    if (g_module_count == kMaxModuleRanges) break;
    uintptr_t low = info->dlpi_addr + header.p_vaddr;
    g_modules[g_module_count++] = MemoryRange{low, low + header.p_memsz};
  }
  return 0;
}

SpinLock g_added_lock;
MappedArray<MemoryRange, 256> g_added;

// Under g_added_lock. A ring: the oldest entry gives way when it is full.
uintptr_t g_exited[kMaxExitedThreads];
int g_exited_next = 0;
// glibc's descriptor (struct pthread) is about 2.3 KiB; the value a thread returned is in it.
constexpr uintptr_t kDescriptorScanBytes = 4096;

// Whether an exited thread's descriptor is still there. A thread nobody joins or detaches
// (one created detached) stays noted after glibc has unmapped its stack, and the range may
// since have been mapped again for anything: tally's own heap or guard pool (whose guard
// markers make pages fault without showing in /proc/self/maps), or the program's memory,
// whose words would then keep blocks from being reported. So tally's ranges are ruled out
// first, the range is copied through the kernel (a page that would fault fails the copy),
// and on x86-64 the copy must begin with glibc's TCB header, which points at the
// descriptor twice (tcb and self).
bool still_a_descriptor(uintptr_t descriptor, uintptr_t high) {
  if (registry_lookup(descriptor) != 0 || registry_lookup(high - 1) != 0) return false;
  uintptr_t copy[kDescriptorScanBytes / sizeof(uintptr_t)];
  size_t length = high - descriptor;
  if (length < 3 * sizeof(uintptr_t) || length > sizeof copy) return false;
  switch (process_copy_own_memory(descriptor, copy, length)) {
    case CopyAnswer::kUnreadable:
      return false;
    case CopyAnswer::kUnknown:  // no way to ask: the mapping's word is all there is
      memcpy(copy, reinterpret_cast<const void*>(descriptor), 3 * sizeof(uintptr_t));
      break;
    case CopyAnswer::kCopied:
      break;
  }
#if defined(__x86_64__)
  return copy[0] == descriptor && copy[2] == descriptor;
#else
  return true;
#endif
}

}  // namespace

bool roots_collect_modules(bool (*on_first_module)(void* context), void* context) {
  if (!g_modules) {
    g_modules = static_cast<MemoryRange*>(os_map(kMaxModuleRanges * sizeof(MemoryRange)));
    if (!g_modules) return false;
  }
  g_module_count = 0;
  CollectContext collect_context{on_first_module, context, true, false};
  dl_iterate_phdr(collect, &collect_context);
  if (collect_context.first) {
    // No module at all (impossible in practice): the stop still has to happen.
    return on_first_module(context);
  }
  return !collect_context.failed;
}

int roots_module_count() {
  return g_module_count;
}

MemoryRange roots_module_range(int index) {
  return g_modules[index];
}

void roots_add(uintptr_t start, size_t length) {
  if (length == 0) return;
  LockGuard guard(g_added_lock);
  g_added.push(MemoryRange{start, start + length});
}

bool roots_remove(uintptr_t start) {
  LockGuard guard(g_added_lock);
  for (size_t i = g_added.count; i-- > 0;) {
    if (g_added[i].low != start) continue;
    g_added[i] = g_added[--g_added.count];
    return true;
  }
  return false;
}

void roots_for_each_added(void (*visit)(MemoryRange range, void* context), void* context) {
  for (size_t i = 0; i < g_added.count; ++i) visit(g_added[i], context);
}

void roots_note_exited_thread(uintptr_t descriptor) {
  LockGuard guard(g_added_lock);
  for (uintptr_t noted : g_exited)
    if (noted == descriptor) return;
  g_exited[g_exited_next] = descriptor;
  g_exited_next = (g_exited_next + 1) % kMaxExitedThreads;
}

void roots_forget_exited_thread(uintptr_t descriptor) {
  LockGuard guard(g_added_lock);
  for (uintptr_t& noted : g_exited)
    if (noted == descriptor) noted = 0;
}

void roots_for_each_exited_thread(void (*visit)(MemoryRange range, void* context), void* context) {
  for (uintptr_t& descriptor : g_exited) {
    if (descriptor == 0) continue;
    // glibc unmaps cached stacks past its cache's size: read only what is still there.
    uintptr_t start = 0, end = 0;
    bool writable = false;
    if (!process_find_mapping(descriptor, &start, &end, &writable)) {
      descriptor = 0;
      continue;
    }
    uintptr_t high =
        end - descriptor > kDescriptorScanBytes ? descriptor + kDescriptorScanBytes : end;
    if (!still_a_descriptor(descriptor, high)) {
      descriptor = 0;
      continue;
    }
    visit(MemoryRange{descriptor, high}, context);
  }
}

void roots_lock_for_fork() {
  g_added_lock.lock();
}
void roots_unlock_after_fork(bool in_child) {
  g_added_lock.release_after_fork(in_child);
}

}  // namespace tally
