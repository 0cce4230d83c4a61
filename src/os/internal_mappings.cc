// tally's own mappings (see the header): linear probing on the mapping's start, with
// tombstones, rebuilt into a table twice as large when live entries and tombstones fill
// half of it. The table's own memory comes straight from mmap and is itself an entry.
#include "os/internal_mappings.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "os/process.h"

namespace tally {
namespace {

struct Entry {
  uintptr_t start;  // 0: empty; kTombstone: removed
  size_t size;
};
constexpr uintptr_t kTombstone = 1;
constexpr size_t kFirstCapacity = 1024;

SpinLock g_lock;
// The thread that holds g_lock for the leak check (0: none): its own mapping calls go on
// without taking it.
std::atomic<int> g_holder{0};
Entry* g_table = nullptr;
size_t g_capacity = 0;
size_t g_used = 0;  // live entries and tombstones

int current_tid() {
  return static_cast<int>(syscall(SYS_gettid));
}

class TableGuard {
 public:
  TableGuard() {
    int holder = g_holder.load(std::memory_order_relaxed);
    locked_ = holder == 0 || holder != current_tid();
    if (locked_) g_lock.lock();
  }
  ~TableGuard() {
    if (locked_) g_lock.unlock();
  }
  TableGuard(const TableGuard&) = delete;
  TableGuard& operator=(const TableGuard&) = delete;

 private:
  bool locked_;
};

size_t slot_of(uintptr_t start, size_t capacity) {
  return ((start >> 12) * 0x9E3779B97F4A7C15ull >> 20) & (capacity - 1);
}

void insert(Entry* table, size_t capacity, uintptr_t start, size_t size) {
  size_t slot = slot_of(start, capacity);
  while (table[slot].start > kTombstone) slot = (slot + 1) & (capacity - 1);
  table[slot] = Entry{start, size};
}

// Rebuilds the table with four times as many slots as live entries (at least 1024); false if
// the kernel refuses (the table then stays as it was, and a mapping may go unlisted).
bool grow() {
  size_t live = 0;
  for (size_t i = 0; i < g_capacity; ++i) live += g_table[i].start > kTombstone;
  size_t capacity = kFirstCapacity;
  while (capacity < 4 * (live + 2)) capacity *= 2;
  int saved_errno = errno;
  void* memory = mmap(nullptr, capacity * sizeof(Entry), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  errno = saved_errno;
  if (memory == MAP_FAILED) return false;
  Entry* table = static_cast<Entry*>(memory);
  for (size_t i = 0; i < g_capacity; ++i) {
    const Entry& entry = g_table[i];
    if (entry.start > kTombstone && entry.start != reinterpret_cast<uintptr_t>(g_table))
      insert(table, capacity, entry.start, entry.size);
  }
  insert(table, capacity, reinterpret_cast<uintptr_t>(table), capacity * sizeof(Entry));
  Entry* old = g_table;
  size_t old_capacity = g_capacity;
  g_table = table;
  g_capacity = capacity;
  g_used = live + 1 - (old != nullptr);  // the old table's entry is gone
  if (old) munmap(old, old_capacity * sizeof(Entry));
  errno = saved_errno;
  return true;
}

}  // namespace

void internal_mappings_add(uintptr_t start, size_t size) {
  TableGuard guard;
  if (2 * (g_used + 1) > g_capacity && !grow()) return;
  insert(g_table, g_capacity, start, size);
  ++g_used;
}

void internal_mappings_remove(uintptr_t start) {
  TableGuard guard;
  if (!g_table) return;
  for (size_t slot = slot_of(start, g_capacity);; slot = (slot + 1) & (g_capacity - 1)) {
    if (g_table[slot].start == 0) return;
    if (g_table[slot].start == start) {
      g_table[slot].start = kTombstone;  // g_used keeps counting it until the next rebuild
      return;
    }
  }
}

size_t internal_mappings_copy(uintptr_t* ranges, size_t capacity) {
  size_t count = 0;
  for (size_t i = 0; i < g_capacity; ++i) {
    const Entry& entry = g_table[i];
    if (entry.start <= kTombstone) continue;
    if (count < capacity) {
      ranges[2 * count] = entry.start;
      ranges[2 * count + 1] = entry.start + entry.size;
    }
    ++count;
  }
  return count;
}

void internal_mappings_lock() {
  g_lock.lock();
  g_holder.store(current_tid(), std::memory_order_relaxed);
}

void internal_mappings_unlock_after_fork(bool in_child) {
  g_holder.store(0, std::memory_order_relaxed);
  g_lock.release_after_fork(in_child);
}

}  // namespace tally
