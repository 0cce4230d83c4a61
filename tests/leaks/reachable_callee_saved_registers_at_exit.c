/* exit() is called while the only pointers to five blocks are in callee-saved registers
 * (rbx, rbp, r12, r13, r14; built with -O2 and no frame pointer, explicit register
 * variables, so no copy is on any stack): they are live in exit's caller, and exit's own
 * frames saved them below the caller's stack pointer, where the scan does not look. The
 * check at exit takes them from the unwind tables; without that they were reported as
 * leaks. A sixth block, dropped on purpose, must still be found, so the check ran. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 200 1
// LEAK-EXPECT-STATUS: 23
#include "leak_test.h"

static LT_NOINLINE void* make_block(size_t size) {
  void* block = malloc(size);
  memset(block, 0, size);
  return block;
}

static LT_NOINLINE __attribute__((noreturn)) void finish(void) {
  exit(lt_finish() ? 3 : 0);
}

int main(void) {
  register void* in_rbx __asm__("rbx") = make_block(24);
  register void* in_rbp __asm__("rbp") = make_block(40);
  register void* in_r12 __asm__("r12") = make_block(56);
  register void* in_r13 __asm__("r13") = make_block(72);
  register void* in_r14 __asm__("r14") = make_block(88);
  __asm__ volatile("" : "+r"(in_rbx), "+r"(in_rbp), "+r"(in_r12), "+r"(in_r13), "+r"(in_r14));
  uintptr_t dropped = lt_hide(make_block(200));
  __asm__ volatile("" : "+r"(dropped));
  lt_scrub_stack();
  __asm__ volatile("" : "+r"(in_rbx), "+r"(in_rbp), "+r"(in_r12), "+r"(in_r13), "+r"(in_r14));
  finish();
}
