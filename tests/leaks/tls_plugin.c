/* The library of reachable_dlopen_tls: loaded with dlopen, so its thread-local variable
 * lives in a dynamic TLS block that glibc allocates with malloc on first use. */
#include <stdlib.h>

static __thread void* t_plugin_slot;

void plugin_keep(void* block) {
  t_plugin_slot = block;
}

void* plugin_take(void) {
  void* block = t_plugin_slot;
  t_plugin_slot = NULL;
  return block;
}
