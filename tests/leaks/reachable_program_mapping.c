/* Blocks whose only pointers are in memory the program mapped itself, as an interpreter's
 * arenas or a custom allocator's pools hold them (python's pymalloc does): anonymous mmap
 * regions, one of them deep in a large region, the brk area, a private writable mapping
 * of a file (the JVM keeps malloc'd arrays' addresses in its class-data archive, mapped
 * so), and a JIT's code, where an address is an instruction's immediate at an odd offset
 * (the JVM's compiled inline caches hold blocks it malloc'd that way). Valgrind finds all
 * but the last
 * reachable; so must tally. Two blocks are leaked all the same: one whose pointer was in a
 * region since unmapped, and one whose pointer is left only in the dead frames of a thread
 * that exited, whose stack glibc keeps for reuse (a stack is scanned only from its stack
 * pointer, never as program memory). */
// LEAK-MODES: debug fast
// LEAK-OPTIONS[mode=fast]: leaks=1
// LEAK-EXPECT: direct 48 1 make_block lose_with_mapping
// LEAK-EXPECT: direct 64 1 make_block keep_on_dead_stack
// LEAK-EXPECT[mode=fast]: direct 48 1
// LEAK-EXPECT[mode=fast]: direct 64 1
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leak_test.h"

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

static void* map_region(size_t size) {
  void* region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  LT_EXPECT(region != MAP_FAILED);
  return region;
}

static LT_NOINLINE void keep_in_mappings(void) {
  /* Arenas of 256 KiB, each holding a pointer at its start and one near its end. */
  for (int i = 0; i < 4; ++i) {
    void** arena = map_region(256 << 10);
    arena[0] = make_block(32);
    arena[(256 << 10) / sizeof(void*) - 3] = make_block(16);
  }
  /* A large region mostly never touched: one pointer 6 MiB in. */
  void** large = map_region(64 << 20);
  large[(6 << 20) / sizeof(void*) + 5] = make_block(80);
  /* The brk area (tally never uses it itself). */
  void** brk_area = sbrk(4096);
  LT_EXPECT(brk_area != (void*)-1);
  if (brk_area != (void*)-1) brk_area[7] = make_block(96);
}

static LT_NOINLINE void keep_in_file_mapping(void) {
  char path[] = "/tmp/tally_mapped_file_XXXXXX";
  int fd = mkstemp(path);
  LT_EXPECT(fd >= 0);
  if (fd < 0) return;
  unlink(path);
  LT_EXPECT(ftruncate(fd, 1 << 20) == 0);
  void** mapped = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  LT_EXPECT(mapped != MAP_FAILED);
  if (mapped != MAP_FAILED) mapped[(300 << 10) / sizeof(void*) + 1] = make_block(112);
}

/* Kept where a JIT would emit `movabs $block, %rax` (48 b8 imm64): the address at offset 2
 * of the instruction, never 8-byte aligned. A system that forbids writable code (SELinux's
 * execmem) refuses the mapping; the block is then kept in a global instead. */
static void* volatile g_code_refused_keeper;

static LT_NOINLINE void keep_in_code_mapping(void) {
  unsigned char* code =
      mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* block = make_block(144);
  if (code == MAP_FAILED) {
    g_code_refused_keeper = block;
    return;
  }
  size_t at = 200 * 8 + 5;
  code[at] = 0x48;
  code[at + 1] = 0xb8;
  memcpy(code + at + 2, &block, sizeof block);
  code[at + 10] = 0xc3;
  block = NULL;
}

static LT_NOINLINE void lose_with_mapping(void) {
  void** region = map_region(4096);
  region[3] = make_block(48);
  munmap(region, 4096);
}

static LT_NOINLINE void keep_on_dead_stack(void* volatile* slot) {
  void* volatile local = make_block(64);
  *slot = NULL;
  __asm__ volatile("" : : "r"(&local) : "memory");
}

static void* thread_main(void* unused) {
  void* volatile slot = unused;
  keep_on_dead_stack(&slot);
  return NULL;
}

int main(void) {
  keep_in_mappings();
  keep_in_file_mapping();
  keep_in_code_mapping();
  lose_with_mapping();
  pthread_t thread;
  LT_EXPECT(pthread_create(&thread, NULL, thread_main, NULL) == 0);
  LT_EXPECT(pthread_join(thread, NULL) == 0);
  lt_scrub_stack();
  return lt_finish();
}
