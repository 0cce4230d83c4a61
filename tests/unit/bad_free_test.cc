// Bad frees through the public API end the process with the report and status expected,
// or, with halt_on_error=0, are reported and ignored without damage.
#include <gtest/gtest.h>

#include <set>

#include "report/error_report.h"
#include "tally.h"

namespace {

TEST(BadFreeDeathTest, DoubleFreeEndsWithTheReport) {
  void* block = tally_malloc(40);
  tally_free(block);
  EXPECT_EXIT(tally_free(block), testing::ExitedWithCode(1),
              "ERROR: tally: attempting double-free on 0x[0-9a-f]+ in thread T[0-9]+:\n"
              "    #0 0x[0-9a-f]+");
}

TEST(BadFreeDeathTest, StackPointerIsNotMalloced) {
  int on_stack = 0;
  EXPECT_EXIT(tally_free(&on_stack), testing::ExitedWithCode(1),
              "attempting free on address which was not malloc\\(\\)-ed: 0x[0-9a-f]+ in thread");
}

TEST(BadFreeDeathTest, InteriorPointerNamesItsBlock) {
  char* block = static_cast<char*>(tally_malloc(100));
  EXPECT_EXIT(tally_free(block + 8), testing::ExitedWithCode(1),
              "is located 8 bytes inside of 112-byte region");
  tally_free(block);
}

TEST(BadFreeDeathTest, ExitcodeIsHonoured) {
  tally::report_set_policy({true, 77});
  void* block = tally_malloc(5000);
  tally_free(block);
  EXPECT_EXIT(tally_free(block), testing::ExitedWithCode(77),
              "SUMMARY: tally: attempting double-free");
  tally::report_set_policy({true, 1});
}

TEST(BadFree, ContinuingAfterABadFreeLosesNothing) {
  tally::report_set_policy({false, 1});
  testing::internal::CaptureStderr();
  void* block = tally_malloc(48);
  tally_free(block);
  tally_free(block);  // reported, ignored
  static int global_variable;
  tally_free(&global_variable);
  void* large = tally_malloc(1 << 21);
  tally_free(large);
  tally_free(large);
  std::string report = testing::internal::GetCapturedStderr();
  tally::report_set_policy({true, 1});
  auto count = [&](const std::string& needle) {
    size_t found = 0;
    for (size_t at = report.find(needle); at != std::string::npos; at = report.find(needle, at + 1))
      ++found;
    return found;
  };
  EXPECT_EQ(count("==ERROR: tally: attempting double-free on"), 2u) << report;
  EXPECT_EQ(count("SUMMARY: tally: bad-free"), 1u) << report;
  EXPECT_EQ(count("==ERROR: tally:"), 3u) << report;
  // The heap still hands out distinct blocks.
  std::set<void*> blocks;
  for (int i = 0; i < 5000; ++i) EXPECT_TRUE(blocks.insert(tally_malloc(48)).second);
  for (void* p : blocks) tally_free(p);
}

}  // namespace
