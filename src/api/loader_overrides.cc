// dlopen, wrapped to drop RTLD_DEEPBIND. A library opened with that flag binds its own
// references to its dependencies' definitions before the global scope's, so its calls to
// malloc and free go to the C library's allocator rather than tally's: a block from one
// freed by the other corrupts both heaps (php loads every extension so and crashed in
// every mode). Without the flag the library's malloc is tally's, as for everything else;
// what it gives up is preferring its own dependencies' definitions of other names too,
// the same trade every preloaded allocator and sanitizer runtime makes.
//
// The wrapper must leave the caller's identity intact: dlopen resolves $ORIGIN and the
// calling object's RUNPATH from its return address, so it ends in a jump to the C
// library's dlopen, not a call, and that return address is still the program's.
#include <dlfcn.h>

#include <atomic>

#include "core/config.h"

namespace {

using Open = void* (*)(const char*, int);
std::atomic<Open> g_next_dlopen{nullptr};

// Stands in if the C library's dlopen cannot be found (glibc always has it): the load
// fails, as a load that found nothing would.
void* no_dlopen(const char*, int) {
  return nullptr;
}

}  // namespace

// Called by the wrapper below with the program's arguments saved; returns the function to
// jump to.
extern "C" __attribute__((visibility("hidden"), used)) Open tally_next_dlopen() {
  Open next = g_next_dlopen.load(std::memory_order_acquire);
  if (TALLY_LIKELY(next != nullptr)) return next;
  next = reinterpret_cast<Open>(dlsym(RTLD_NEXT, "dlopen"));
  if (!next) next = no_dlopen;
  g_next_dlopen.store(next, std::memory_order_release);
  return next;
}

static_assert(RTLD_DEEPBIND == 0x8, "the flag cleared below");

// dlopen(file, mode): saves the arguments (rdi, rsi), finds the C library's dlopen, clears
// RTLD_DEEPBIND from mode and jumps there with the caller's return address on the stack.
__asm__(R"(
  .text
  .globl dlopen
  .type dlopen, @function
  .p2align 4
dlopen:
  .cfi_startproc
  endbr64
  push %rdi
  .cfi_adjust_cfa_offset 8
  push %rsi
  .cfi_adjust_cfa_offset 8
  sub $8, %rsp
  .cfi_adjust_cfa_offset 8
  call tally_next_dlopen
  add $8, %rsp
  .cfi_adjust_cfa_offset -8
  pop %rsi
  .cfi_adjust_cfa_offset -8
  pop %rdi
  .cfi_adjust_cfa_offset -8
  and $-9, %esi
  jmp *%rax
  .cfi_endproc
  .size dlopen, .-dlopen
)");
