// Every form of C++ operator new and delete. tally does not link libstdc++: when a
// throwing new fails, the program's new-handler is called and std::bad_alloc is thrown
// through weak references to libstdc++, which any program that calls operator new has
// loaded. Without them (impossible for a real C++ program) the failure is reported and
// the process ends.
#include <stddef.h>

#include "api/allocation.h"
#include "os/process.h"
#include "report/output.h"

using namespace tally;

namespace std {
struct nothrow_t;
enum class align_val_t : size_t;
}  // namespace std

using NewHandler = void (*)();
extern "C" {
NewHandler libstdcxx_get_new_handler() __asm__("_ZSt15get_new_handlerv") __attribute__((weak));
[[noreturn]] void libstdcxx_throw_bad_alloc() __asm__("_ZSt17__throw_bad_allocv")
    __attribute__((weak));
}

namespace {

// Returns memory or nullptr after the new-handler gave up (nothrow), or throws.
TALLY_COLD void* new_failed(size_t size, size_t alignment, ApiCall call, bool nothrow) {
  for (;;) {
    NewHandler handler = libstdcxx_get_new_handler ? libstdcxx_get_new_handler() : nullptr;
    if (!handler) break;
    handler();  // may throw, or free memory and return for another try
    void* memory = alignment ? allocate_aligned(alignment, size, call) : allocate(size, call);
    if (memory) return memory;
  }
  if (nothrow) return nullptr;
  if (libstdcxx_throw_bad_alloc) libstdcxx_throw_bad_alloc();
  char buffer[160];
  Formatter out(buffer, sizeof buffer);
  out.text("==")
      .decimal(static_cast<uint64_t>(process_id()))
      .text("==ERROR: tally: out of memory in operator new(")
      .decimal(size)
      .text(")\n");
  output_write(out);
  __builtin_trap();
}

TALLY_INLINE void* new_block(size_t size, ApiCall call) {
  void* memory = allocate(size, call);
  if (TALLY_LIKELY(memory != nullptr)) return memory;
  return new_failed(size, 0, call, false);
}

TALLY_INLINE void* new_block_nothrow(size_t size, ApiCall call) {
  void* memory = allocate(size, call);
  if (TALLY_LIKELY(memory != nullptr)) return memory;
  return new_failed(size, 0, call, true);
}

void* new_aligned(size_t size, std::align_val_t alignment, ApiCall call, bool nothrow) {
  size_t align = static_cast<size_t>(alignment);
  void* memory = allocate_aligned(align, size, call);
  if (TALLY_LIKELY(memory != nullptr)) return memory;
  return new_failed(size, align, call, nothrow);
}

}  // namespace

TALLY_EXPORT void* operator new(size_t size) {
  return new_block(size, kCallNew);
}
TALLY_EXPORT void* operator new[](size_t size) {
  return new_block(size, kCallNewArray);
}
TALLY_EXPORT void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return new_block_nothrow(size, kCallNew);
}
TALLY_EXPORT void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return new_block_nothrow(size, kCallNewArray);
}
TALLY_EXPORT void* operator new(size_t size, std::align_val_t alignment) {
  return new_aligned(size, alignment, kCallNewAligned, false);
}
TALLY_EXPORT void* operator new[](size_t size, std::align_val_t alignment) {
  return new_aligned(size, alignment, kCallNewArrayAligned, false);
}
TALLY_EXPORT void* operator new(size_t size, std::align_val_t alignment,
                                const std::nothrow_t&) noexcept {
  return new_aligned(size, alignment, kCallNewAligned, true);
}
TALLY_EXPORT void* operator new[](size_t size, std::align_val_t alignment,
                                  const std::nothrow_t&) noexcept {
  return new_aligned(size, alignment, kCallNewArrayAligned, true);
}

TALLY_EXPORT void operator delete(void* pointer) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDelete);
}
TALLY_EXPORT void operator delete[](void* pointer) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDeleteArray);
}
TALLY_EXPORT void operator delete(void* pointer, size_t size) noexcept {
  TALLY_DEALLOCATE_SIZED(pointer, kCallDelete, size);
}
TALLY_EXPORT void operator delete[](void* pointer, size_t size) noexcept {
  TALLY_DEALLOCATE_SIZED(pointer, kCallDeleteArray, size);
}
TALLY_EXPORT void operator delete(void* pointer, const std::nothrow_t&) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDelete);
}
TALLY_EXPORT void operator delete[](void* pointer, const std::nothrow_t&) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDeleteArray);
}
TALLY_EXPORT void operator delete(void* pointer, std::align_val_t) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDeleteAligned);
}
TALLY_EXPORT void operator delete[](void* pointer, std::align_val_t) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDeleteArrayAligned);
}
TALLY_EXPORT void operator delete(void* pointer, size_t size, std::align_val_t) noexcept {
  TALLY_DEALLOCATE_SIZED(pointer, kCallDeleteAligned, size);
}
TALLY_EXPORT void operator delete[](void* pointer, size_t size, std::align_val_t) noexcept {
  TALLY_DEALLOCATE_SIZED(pointer, kCallDeleteArrayAligned, size);
}
TALLY_EXPORT void operator delete(void* pointer, std::align_val_t, const std::nothrow_t&) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDeleteAligned);
}
TALLY_EXPORT void operator delete[](void* pointer, std::align_val_t,
                                    const std::nothrow_t&) noexcept {
  TALLY_DEALLOCATE(pointer, kCallDeleteArrayAligned);
}
