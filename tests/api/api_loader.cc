// dlopen under tally: a library opened with RTLD_DEEPBIND allocates from tally like the
// rest of the program (blocks pass freely between it and the program), and dlopen still
// knows its real caller ($ORIGIN in the file name is the calling object's directory).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>

#include "tally_test_support.h"

namespace {

using PluginMalloc = void* (*)(size_t);
using PluginFree = void (*)(void*);

struct Plugin {
  void* library = nullptr;
  PluginMalloc allocate = nullptr;
  PluginFree release = nullptr;
};

Plugin open_plugin(const char* path, int flags) {
  Plugin plugin;
  plugin.library = dlopen(path, flags);
  if (!plugin.library) return plugin;
  plugin.allocate = reinterpret_cast<PluginMalloc>(dlsym(plugin.library, "loader_plugin_malloc"));
  plugin.release = reinterpret_cast<PluginFree>(dlsym(plugin.library, "loader_plugin_free"));
  return plugin;
}

TEST(ApiLoader, ALibraryOpenedWithDeepBindAllocatesFromTally) {
  Plugin plugin = open_plugin(TALLY_LOADER_PLUGIN, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  ASSERT_NE(plugin.library, nullptr) << dlerror();
  ASSERT_NE(plugin.allocate, nullptr);
  ASSERT_NE(plugin.release, nullptr);
  // Each way round, many times: a block of one allocator freed by the other corrupts a
  // heap or is reported as a bad free (both abort), so only one allocator passes.
  for (int round = 0; round < 1000; ++round) {
    size_t size = 16 + static_cast<size_t>(round) * 7;
    char* from_plugin = static_cast<char*>(plugin.allocate(size));
    ASSERT_NE(from_plugin, nullptr);
    memset(from_plugin, 0x5a, size);
    if (tally_test::TallyPresent()) {
      EXPECT_GE(tally_test::Tally().malloc_usable_size(from_plugin), size);
    }
    free(from_plugin);
    char* from_program = static_cast<char*>(malloc(size));
    ASSERT_NE(from_program, nullptr);
    memset(from_program, 0xa5, size);
    plugin.release(from_program);
  }
  EXPECT_EQ(dlclose(plugin.library), 0);
}

TEST(ApiLoader, OriginInAFileNameIsTheCallersDirectory) {
  // The plugin sits beside this program, not beside libtally.so: a dlopen wrapper that
  // called the C library's (rather than jumping to it) would make itself the caller.
  Plugin plugin = open_plugin("$ORIGIN/" TALLY_LOADER_PLUGIN_NAME, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(plugin.library, nullptr) << dlerror();
  ASSERT_NE(plugin.allocate, nullptr);
  void* block = plugin.allocate(64);
  ASSERT_NE(block, nullptr);
  plugin.release(block);
  EXPECT_EQ(dlclose(plugin.library), 0);
}

TEST(ApiLoader, AFailedOpenSaysWhyThroughDlerror) {
  dlerror();
  EXPECT_EQ(dlopen("/nonexistent/tally-loader-test.so", RTLD_NOW | RTLD_DEEPBIND), nullptr);
  const char* why = dlerror();
  ASSERT_NE(why, nullptr);
  EXPECT_NE(strstr(why, "tally-loader-test.so"), nullptr) << why;
}

}  // namespace
