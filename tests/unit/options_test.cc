// Option parsing: defaults from the table, every type, and problems reported, not ignored.
#include "api/options.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

TEST(Options, DefaultsComeFromTheTable) {
  options_parse(nullptr);
  EXPECT_EQ(g_options.mode, Mode::kSafe);
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

TEST(Options, IntsOutsideTheirRangeAreReportedAndKeepTheDefault) {
  struct Case {
    const char* given;
    const char* explanation;
  };
  const Case cases[] = {
      {"sample_rate=-5", "sample_rate is at least 0"},
      {"stack_depth=0", "stack_depth is 1 to 64"},
      {"stack_depth=100", "stack_depth is 1 to 64"},
      {"guard_time_percent=101", "guard_time_percent is 0 to 100"},
      {"mark_threads=65", "mark_threads is 0 to 64"},
      {"stop_signal=9", "stop_signal is a signal number from 1 to 64, and not SIGKILL or SIGSTOP"},
      {"stop_signal=65", "stop_signal is a signal number from 1 to 64)"},
      {"verbosity=-1", "verbosity is at least 0"},
  };
  options_parse(nullptr);
  const Options defaults = g_options;
  for (const Case& bad : cases) {
    testing::internal::CaptureStderr();
    options_parse(bad.given);
    std::string errors = testing::internal::GetCapturedStderr();
    EXPECT_NE(errors.find(std::string("bad value in TALLY_OPTIONS (") + bad.explanation),
              std::string::npos)
        << bad.given << ": " << errors;
    EXPECT_NE(errors.find(std::string("'") + bad.given + "'"), std::string::npos)
        << bad.given << ": " << errors;
    EXPECT_EQ(g_options.sample_rate, defaults.sample_rate) << bad.given;
    EXPECT_EQ(g_options.stack_depth, defaults.stack_depth) << bad.given;
    EXPECT_EQ(g_options.guard_time_percent, defaults.guard_time_percent) << bad.given;
    EXPECT_EQ(g_options.mark_threads, defaults.mark_threads) << bad.given;
    EXPECT_EQ(g_options.stop_signal, defaults.stop_signal) << bad.given;
    EXPECT_EQ(g_options.verbosity, defaults.verbosity) << bad.given;
  }
  // Ten digits can say more than an int holds: not a wrapped number.
  testing::internal::CaptureStderr();
  options_parse("sample_rate=4294967297");
  EXPECT_NE(testing::internal::GetCapturedStderr().find("'sample_rate=4294967297'"),
            std::string::npos);
  EXPECT_EQ(g_options.sample_rate, defaults.sample_rate);
  // The ends of each range are good values.
  testing::internal::CaptureStderr();
  options_parse(
      "stack_depth=1:guard_time_percent=100:mark_threads=64:stop_signal=64:sample_rate=0");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(g_options.stack_depth, 1);
  EXPECT_EQ(g_options.stop_signal, 64);
  options_parse(nullptr);
}

TEST(Options, SizesTakeSuffixesAndTristatesTakeAuto) {
  testing::internal::CaptureStderr();
  options_parse(
      "quarantine_bytes=3m:guard_max_size=12k:thread_quarantine_bytes=77:poison=0:canaries=auto");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(g_options.quarantine_bytes, size_t{3} << 20);
  EXPECT_EQ(g_options.guard_max_size, size_t{12} << 10);
  EXPECT_EQ(g_options.thread_quarantine_bytes, 77u);
  EXPECT_EQ(g_options.poison, 0);
  EXPECT_EQ(g_options.canaries, -1);
  testing::internal::CaptureStderr();
  options_parse("quarantine_bytes=3x:poison=sometimes:guard_side=up");
  std::string errors = testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("'quarantine_bytes=3x'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("'poison=sometimes'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("guard_side is right or left"), std::string::npos) << errors;
  EXPECT_STREQ(g_options.guard_side, "right");
  options_parse(nullptr);
}

TEST(Options, GuardAlignmentIsAPowerOfTwoUpTo16) {
  for (const char* good : {"guard_alignment=1", "guard_alignment=8", "guard_alignment=16"}) {
    testing::internal::CaptureStderr();
    options_parse(good);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << good;
  }
  EXPECT_EQ(g_options.guard_alignment, 16);
  for (const char* bad : {"guard_alignment=3", "guard_alignment=32", "guard_alignment=-2"}) {
    testing::internal::CaptureStderr();
    options_parse(bad);
    std::string errors = testing::internal::GetCapturedStderr();
    EXPECT_NE(errors.find("guard_alignment is 0, 1, 2, 4, 8 or 16"), std::string::npos) << bad;
    EXPECT_EQ(g_options.guard_alignment, 0) << bad;  // the mode's default
  }
  options_parse(nullptr);
}

TEST(Options, ModesNotYetBuiltFallBackWithAWarning) {
  testing::internal::CaptureStderr();
  options_parse("mode=gc");
  std::string errors = testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("mode=gc is not available yet"), std::string::npos) << errors;
  EXPECT_EQ(g_options.mode, Mode::kSafe);
  options_parse("mode=debug");
  EXPECT_EQ(g_options.mode, Mode::kDebug);
  testing::internal::CaptureStderr();
  options_parse("mode=turbo");
  errors = testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("bad value in TALLY_OPTIONS: 'mode=turbo'"), std::string::npos) << errors;
  options_parse(nullptr);
}

}  // namespace
}  // namespace tally
