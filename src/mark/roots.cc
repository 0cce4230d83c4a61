// Module roots from dl_iterate_phdr, and the registry of the program's own roots (a small
// mapped array under a spin lock).
#include "mark/roots.h"

#include <link.h>
#include <string.h>

#include <algorithm>

#include "core/registry.h"
#include "os/internal_mappings.h"
#include "os/mapped_array.h"
#include "os/memory.h"
#include "os/process.h"

namespace tally {
namespace {

constexpr int kMaxModuleRanges = 8192;
MemoryRange* g_modules = nullptr;
int g_module_count = 0;
// The writable segments of tally's own module (when it is a shared library), page-rounded.
constexpr int kMaxOwnRanges = 8;
MemoryRange g_own[kMaxOwnRanges];
int g_own_count = 0;

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
  // ELF header. (Linked into a program, tally's data is the program's and stays in.) Its
  // writable segments are noted, to be left out of the program's anonymous memory too
  // (the zero-filled part of one is an anonymous mapping).
  if (__start_tally_text == nullptr) {
    uintptr_t own = reinterpret_cast<uintptr_t>(__ehdr_start);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const ElfW(Phdr)& header = info->dlpi_phdr[i];
      uintptr_t low = info->dlpi_addr + header.p_vaddr;
      if (header.p_type != PT_LOAD || own < low || own >= low + header.p_memsz) continue;
      g_own_count = 0;
      for (int j = 0; j < info->dlpi_phnum && g_own_count < kMaxOwnRanges; ++j) {
        const ElfW(Phdr)& segment = info->dlpi_phdr[j];
        if (segment.p_type != PT_LOAD || !(segment.p_flags & PF_W)) continue;
        uintptr_t start = (info->dlpi_addr + segment.p_vaddr) & ~uintptr_t{4095};
        uintptr_t end =
            (info->dlpi_addr + segment.p_vaddr + segment.p_memsz + 4095) & ~uintptr_t{4095};
        g_own[g_own_count++] = MemoryRange{start, end};
      }
      return 0;
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

// Whether [low, high) ends with a glibc thread control block: an address that holds itself
// (tcb) and holds itself again two words on (self). glibc puts the thread's descriptor,
// which starts with it, at the top of the thread's stack mapping.
bool ends_with_thread_control_block(uintptr_t low, uintptr_t high) {
#if defined(__x86_64__)
  // glibc refuses stacks below PTHREAD_STACK_MIN, and its descriptor and TLS come on top:
  // smaller mappings (a process may have tens of thousands) need no look.
  constexpr uintptr_t kSmallestThreadStack = 16384;
  if (high - low < kSmallestThreadStack) return false;
  constexpr uintptr_t kSearched = 4096;  // the descriptor (2.3 KiB) and its alignment
  uintptr_t from = high - low > kSearched ? high - kSearched : low;
  from = (from + 63) & ~uintptr_t{63};
  if (from >= high || registry_lookup(from) != 0 || registry_lookup(high - 1) != 0) return false;
  // Through the kernel: a page the program guarded (MADV_GUARD_INSTALL) fails the copy.
  // Static, as the window below: one check runs at a time, on whatever stack the thread
  // that exits or asks for it has.
  static uintptr_t copy[kSearched / sizeof(uintptr_t)];
  size_t length = high - from;
  switch (process_copy_own_memory(from, copy, length)) {
    case CopyAnswer::kUnreadable:
      return false;
    case CopyAnswer::kUnknown:
      memcpy(copy, reinterpret_cast<const void*>(from), length);
      break;
    case CopyAnswer::kCopied:
      break;
  }
  for (size_t offset = 0; offset + 3 * sizeof(uintptr_t) <= length; offset += 64) {
    const uintptr_t* words = copy + offset / sizeof(uintptr_t);
    if (words[0] == from + offset && words[2] == from + offset) return true;
  }
  return false;
#else
  (void)low;
  (void)high;
  return false;
#endif
}

struct ProgramMappingScan {
  void (*visit)(MemoryRange range, void* context);
  void (*visit_code)(MemoryRange range, void* context);
  void* context;
  const MemoryRange* internal;  // tally's own mappings, by start
  size_t internal_count;
};

// Visits the resident runs of pages of [low, high).
void visit_resident(uintptr_t low, uintptr_t high, const ProgramMappingScan& scan) {
  constexpr size_t kWindowPages = 4096;
  static unsigned char resident[kWindowPages];
  constexpr uintptr_t kPage = 4096;
  for (uintptr_t window = low; window < high;) {
    uintptr_t window_end =
        high - window > kWindowPages * kPage ? window + kWindowPages * kPage : high;
    size_t pages = (window_end - window + kPage - 1) / kPage;
    bool known = os_resident_pages(reinterpret_cast<void*>(window), window_end - window, resident);
    if (!known) {
      scan.visit(MemoryRange{window, window_end}, scan.context);
    } else {
      for (size_t page = 0; page < pages;) {
        if (!(resident[page] & 1)) {
          ++page;
          continue;
        }
        size_t first = page;
        while (page < pages && (resident[page] & 1)) ++page;
        uintptr_t run_end = window + page * kPage;
        scan.visit(MemoryRange{window + first * kPage, run_end < window_end ? run_end : window_end},
                   scan.context);
      }
    }
    window = window_end;
  }
}

// Visits [low, high) less tally's memory: registry slots and internal mappings.
void visit_program_part(uintptr_t low, uintptr_t high, const ProgramMappingScan& scan) {
  // The internal mappings that may meet the range: from the first that ends after `low`.
  const MemoryRange* internal = scan.internal;
  const MemoryRange* internal_end = scan.internal + scan.internal_count;
  internal =
      std::lower_bound(internal, internal_end, low,
                       [](const MemoryRange& range, uintptr_t at) { return range.high <= at; });
  uintptr_t at = low;
  while (at < high) {
    if (registry_lookup(at) != 0) {  // tally's slot: skip to the next slot
      at = (at + kSegmentSize) & ~(kSegmentSize - 1);
      continue;
    }
    while (internal < internal_end && internal->high <= at) ++internal;
    if (internal < internal_end && internal->low <= at) {
      at = internal->high;
      continue;
    }
    // Program memory up to the next slot, internal mapping or the range's end.
    uintptr_t end = (at + kSegmentSize) & ~(kSegmentSize - 1);
    if (end > high) end = high;
    if (internal < internal_end && internal->low < end) end = internal->low;
    visit_resident(at, end, scan);
    at = end;
  }
}

}  // namespace

void roots_for_each_program_mapping(void (*visit)(MemoryRange range, void* context),
                                    void (*visit_code)(MemoryRange range, void* context),
                                    void* context) {
  // A list of the ranges left out, sorted: tally's internal mappings, its module's writable
  // segments, and every module's writable segments (roots of their own already, scanned
  // exactly; a file-backed module segment would otherwise be scanned twice). Page-rounded, so
  // that what remains starts on a page, as mincore wants. The list's own mapping is made
  // first, so that it is on it.
  size_t module_count = static_cast<size_t>(g_module_count);
  size_t capacity = internal_mappings_copy(nullptr, 0) + 64 + kMaxOwnRanges + module_count;
  size_t bytes = (capacity * sizeof(MemoryRange) + 4095) & ~size_t{4095};
  auto* internal = static_cast<MemoryRange*>(os_map(bytes));
  if (!internal) return;
  static_assert(sizeof(MemoryRange) == 2 * sizeof(uintptr_t), "pairs of words");
  size_t reserved = kMaxOwnRanges + module_count;
  size_t count =
      internal_mappings_copy(reinterpret_cast<uintptr_t*>(internal), capacity - reserved);
  if (count > capacity - reserved) count = capacity - reserved;  // nothing maps between
  for (int i = 0; i < g_own_count; ++i) internal[count++] = g_own[i];
  constexpr uintptr_t kPage = 4096;
  for (size_t i = 0; i < module_count; ++i)
    internal[count++] = MemoryRange{g_modules[i].low & ~(kPage - 1),
                                    (g_modules[i].high + kPage - 1) & ~(kPage - 1)};
  std::sort(internal, internal + count,
            [](const MemoryRange& a, const MemoryRange& b) { return a.low < b.low; });
  // Overlapping ranges (a module's segments share a page) are merged, so that the walk in
  // visit_program_part, which takes them in order of their starts, never steps back.
  size_t merged = 0;
  for (size_t i = 0; i < count; ++i) {
    if (merged > 0 && internal[i].low <= internal[merged - 1].high) {
      if (internal[i].high > internal[merged - 1].high)
        internal[merged - 1].high = internal[i].high;
    } else {
      internal[merged++] = internal[i];
    }
  }
  ProgramMappingScan scan{visit, visit_code, context, internal, merged};
  process_for_each_mapping(
      [](const MappingLine& line, void* raw) {
        const ProgramMappingScan& scan = *static_cast<const ProgramMappingScan*>(raw);
        if (!line.readable || !line.writable || line.shared) return true;
        if (line.backing == MappingBacking::kFile) {
          // A private writable mapping of a file: the pages the program wrote are its own
          // copies, and may hold pointers (the JVM's class-data archive keeps its module
          // tables' malloc'd arrays there: 2,208 bytes in 92 blocks were reported leaked
          // that Valgrind finds reachable).
          visit_program_part(line.start, line.end, scan);
          return true;
        }
        if (line.backing != MappingBacking::kAnonymous) return true;
        if (ends_with_thread_control_block(line.start, line.end)) return true;
        visit_program_part(line.start, line.end, scan);
        if (line.executable && scan.visit_code) {
          // A JIT's code cache: its instructions hold addresses at any byte offset.
          ProgramMappingScan code = scan;
          code.visit = scan.visit_code;
          visit_program_part(line.start, line.end, code);
        }
        return true;
      },
      &scan);
  os_unmap(internal, bytes);
}

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
