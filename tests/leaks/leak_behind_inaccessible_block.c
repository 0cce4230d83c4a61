/* A program makes heap blocks of its own inaccessible with mprotect: a page-aligned block
 * from posix_memalign made PROT_NONE, and a large one made read-only. The mark read the
 * first and crashed the check at exit in every mode (LeakSanitizer's crashes too; memcheck
 * skips such memory). Now an inaccessible block is marked but not scanned: the block only
 * it points to is reported as leaked, as memcheck reports it, and the read-only block is
 * scanned as any other (its block is reachable). */
// LEAK-MODES: fast safe debug
// LEAK-OPTIONS[mode=fast,safe]: leaks=1
// LEAK-EXPECT: direct 50 1 make_hidden_block
// LEAK-EXPECT[mode=fast]: direct 64 1
// LEAK-EXPECT[mode=safe]: direct 50 1
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leak_test.h"

static void* g_inaccessible;
static void* g_read_only;

static LT_NOINLINE void* make_hidden_block(void) {
  return malloc(50);
}

static LT_NOINLINE void* make_visible_block(void) {
  return malloc(60);
}

int main(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void* hiding = NULL;
  LT_EXPECT(posix_memalign(&hiding, page, 4 * page) == 0);
  memset(hiding, 0, 4 * page);
  ((void**)hiding)[0] = make_hidden_block();
  LT_EXPECT(mprotect(hiding, 4 * page, PROT_NONE) == 0);
  g_inaccessible = hiding;

  size_t large = 600 * 1024;
  void* read_only = NULL;
  LT_EXPECT(posix_memalign(&read_only, page, large) == 0);
  memset(read_only, 0, large);
  ((void**)read_only)[0] = make_visible_block();
  LT_EXPECT(mprotect(read_only, large, PROT_READ) == 0);
  g_read_only = read_only;

  lt_scrub_stack();
  return lt_finish();
}
