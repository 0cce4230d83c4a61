/* A block kept only in a dlopen'ed library's __thread variable, that is in a dynamic TLS
 * block glibc allocated with malloc: the TLS block is no leak (the loader's bookkeeping),
 * and neither is what it holds. Cleared, the block is found leaked. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 72 1 make_block
// LEAK-EXPECT-STATUS: 0
#include "leak_test.h"

static LT_NOINLINE void* make_block(size_t size) {
  return calloc(1, size);
}

int main(void) {
  void* plugin = dlopen(LEAK_TLS_PLUGIN, RTLD_NOW);
  if (!plugin) {
    printf("TALLY-LEAK-TEST: FAIL: dlopen: %s\n", dlerror());
    return 2;
  }
  void (*keep)(void*) = (void (*)(void*))dlsym(plugin, "plugin_keep");
  void* (*take)(void) = (void* (*)(void))dlsym(plugin, "plugin_take");
  keep(make_block(72));
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  uintptr_t hidden = lt_hide(take());
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 72);
  free(lt_unhide(hidden));
  return lt_finish();
}
