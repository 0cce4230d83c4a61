// A growable array in memory mapped from the kernel, for code that may not call malloc
// (the marker, the leak check, the root registry). It doubles by mapping a bigger array and
// copying; the old mapping goes back to the kernel. Not thread-safe: its users hold a lock
// or run with the world stopped. Trivially constructible, so it can be a global.
#pragma once

#include <stddef.h>
#include <string.h>

#include "os/memory.h"

namespace tally {

template <typename T, size_t kFirstCapacity = 4096>
struct MappedArray {
  T* items;
  size_t count;
  size_t capacity;

  // False (and nothing added) when the kernel refuses the memory.
  bool push(const T& item) {
    if (count == capacity && !grow()) return false;
    items[count++] = item;
    return true;
  }
  void clear() { count = 0; }
  void release() {
    if (items) os_unmap(items, capacity * sizeof(T));
    items = nullptr;
    count = capacity = 0;
  }
  T& operator[](size_t index) { return items[index]; }
  const T& operator[](size_t index) const { return items[index]; }
  T* begin() { return items; }
  T* end() { return items + count; }

 private:
  bool grow() {
    size_t grown_capacity = capacity ? capacity * 2 : kFirstCapacity;
    T* grown = static_cast<T*>(os_map(grown_capacity * sizeof(T)));
    if (!grown) return false;
    if (items) {
      memcpy(static_cast<void*>(grown), items, count * sizeof(T));
      os_unmap(items, capacity * sizeof(T));
    }
    items = grown;
    capacity = grown_capacity;
    return true;
  }
};

}  // namespace tally
