/* A library the loader tests open: it allocates and frees through its own references to
 * malloc and free, which RTLD_DEEPBIND would bind to the C library's. */
#include <stdlib.h>

void* loader_plugin_malloc(size_t size) {
  return malloc(size);
}

void loader_plugin_free(void* block) {
  free(block);
}
