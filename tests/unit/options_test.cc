// Option parsing: defaults from the table, every type, and problems reported, not ignored.
#include "api/options.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

TEST(Options, DefaultsComeFromTheTable) {
  options_parse(nullptr);
  EXPECT_EQ(g_options.mode, Mode::kFast);
  EXPECT_TRUE(g_options.halt_on_error);
  EXPECT_EQ(g_options.exitcode, 1);
  EXPECT_STREQ(g_options.log_path, "");
  EXPECT_FALSE(g_options.stats);
}

TEST(Options, EveryTypeParses) {
  testing::internal::CaptureStderr();
  options_parse("halt_on_error=0:exitcode=42:log_path=/tmp/tally-log:stats=true,verbosity=2");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_FALSE(g_options.halt_on_error);
  EXPECT_EQ(g_options.exitcode, 42);
  EXPECT_STREQ(g_options.log_path, "/tmp/tally-log");
  EXPECT_TRUE(g_options.stats);
  EXPECT_EQ(g_options.verbosity, 2);
  options_parse("exitcode=-3");
  EXPECT_EQ(g_options.exitcode, -3);
}

TEST(Options, UnknownKeysAndBadValuesAreReported) {
  testing::internal::CaptureStderr();
  options_parse("no_such_option=1:halt_on_error=maybe:exitcode=12x:stats");
  std::string errors = testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("unknown option in TALLY_OPTIONS: 'no_such_option=1'"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("bad value in TALLY_OPTIONS: 'halt_on_error=maybe'"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("bad value in TALLY_OPTIONS: 'exitcode=12x'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("option without a value in TALLY_OPTIONS: 'stats'"), std::string::npos)
      << errors;
  // A bad value leaves the default in place.
  EXPECT_TRUE(g_options.halt_on_error);
  EXPECT_EQ(g_options.exitcode, 1);
}

TEST(Options, ModesNotYetBuiltFallBackToFastWithAWarning) {
  testing::internal::CaptureStderr();
  options_parse("mode=debug");
  std::string errors = testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("mode=fast only"), std::string::npos) << errors;
  EXPECT_EQ(g_options.mode, Mode::kFast);
  testing::internal::CaptureStderr();
  options_parse("mode=turbo");
  errors = testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("bad value in TALLY_OPTIONS: 'mode=turbo'"), std::string::npos) << errors;
  options_parse(nullptr);
}

}  // namespace
}  // namespace tally
