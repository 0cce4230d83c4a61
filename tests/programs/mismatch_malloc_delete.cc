// Mismatched deallocation, malloc / delete: a C library returns a configuration struct
// allocated with malloc, and the C++ wrapper releases it with delete. Checked in debug
// mode (fast and safe mode free it like free() would).
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: close_config
// TALLY-EXPECT-ALLOC-FRAME: config_load
#include <cstdlib>
#include <cstring>

#include "tally_test.h"

extern "C" {
struct config {
  char path[64];
  int verbosity;
  int workers;
};

// The C side: allocates with malloc, documents "release with config_free()".
TT_NOINLINE struct config* config_load(const char* path) {
  struct config* config = static_cast<struct config*>(std::malloc(sizeof(struct config)));
  TT_CHECK(config != nullptr);
  std::strncpy(config->path, path, sizeof(config->path) - 1);
  config->path[sizeof(config->path) - 1] = '\0';
  config->verbosity = 1;
  config->workers = 4;
  return config;
}
}

namespace {

TT_NOINLINE void close_config(config* loaded) {
  tt_note_bad_free(loaded, loaded, sizeof(config));
  delete loaded;  // should be free() (config_free)
}

}  // namespace

int main() {
  config* loaded = config_load("/etc/tally/workers.conf");
  TT_CHECK(loaded->workers == 4);
  close_config(loaded);
  tt_survived();
  return 0;
}
