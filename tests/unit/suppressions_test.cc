// Suppression patterns: substring by default, `*` for any run, `^` and `$` anchors; the
// file format (leak: lines, comments, blanks, a bad line reported and skipped).
#include "mark/suppressions.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

namespace tally {
namespace {

TEST(SuppressionPattern, MatchesLikeLeakSanitizer) {
  EXPECT_TRUE(suppression_pattern_matches("cache_fill", "legacy_cache_fill"));
  EXPECT_TRUE(suppression_pattern_matches("cache_fill", "cache_fill_all"));
  EXPECT_FALSE(suppression_pattern_matches("^cache_fill", "legacy_cache_fill"));
  EXPECT_TRUE(suppression_pattern_matches("^legacy", "legacy_cache_fill"));
  EXPECT_TRUE(suppression_pattern_matches("fill$", "legacy_cache_fill"));
  EXPECT_FALSE(suppression_pattern_matches("fill$", "legacy_cache_fill_all"));
  EXPECT_TRUE(suppression_pattern_matches("^legacy_cache_fill$", "legacy_cache_fill"));
  EXPECT_TRUE(suppression_pattern_matches("Pool*::grow", "Pool<Item>::grow(int)"));
  EXPECT_FALSE(suppression_pattern_matches("Pool*::grow", "Pool<Item>::shrink(int)"));
  EXPECT_TRUE(suppression_pattern_matches("^/usr/lib/*/libfoo.so", "/usr/lib/x86_64/libfoo.so.2"));
  EXPECT_TRUE(suppression_pattern_matches("*", "anything"));
  EXPECT_FALSE(suppression_pattern_matches("x", ""));
  EXPECT_FALSE(suppression_pattern_matches("x", nullptr));
}

TEST(SuppressionFile, ReadsLeakLinesAndSkipsTheRest) {
  char path[] = "/tmp/tally-suppressions-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const char text[] =
      "# a comment\n"
      "\n"
      "leak:first_pattern\n"
      "   leak:second_pattern   \r\n"
      "race:not_ours\n"
      "leak:third$\n";
  ASSERT_EQ(write(fd, text, sizeof text - 1), static_cast<ssize_t>(sizeof text - 1));
  close(fd);
  int before = suppressions_count();
  suppressions_load(path);
  unlink(path);
  int loaded = suppressions_count() - before;
  // The built-in list comes first, then the file's three leak: lines.
  ASSERT_GE(loaded, 3);
  EXPECT_STREQ(suppression_at(suppressions_count() - 3).pattern, "first_pattern");
  EXPECT_STREQ(suppression_at(suppressions_count() - 2).pattern, "second_pattern");
  EXPECT_STREQ(suppression_at(suppressions_count() - 1).pattern, "third$");
  const char* names[] = {"main", "module_third"};
  Suppression* match = suppressions_match(names, 2);
  ASSERT_NE(match, nullptr);
  EXPECT_STREQ(match->pattern, "third$");
  const char* other[] = {"main", "/usr/bin/true"};
  EXPECT_EQ(suppressions_match(other, 2), nullptr);
}

}  // namespace
}  // namespace tally
