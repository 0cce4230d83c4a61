// Poison and canary patterns: every length, every start alignment, every position of a
// changed byte, including the word-at-a-time and four-words-at-a-time paths and the tails.
#include "safety/fill_patterns.h"

#include <gtest/gtest.h>
#include <stdint.h>

#include <vector>

namespace tally {
namespace {

constexpr uint8_t kByte = 0xCB;
constexpr size_t kMaxLength = 300;

TEST(FillPatterns, FillWritesExactlyTheRange) {
  std::vector<unsigned char> buffer(kMaxLength + 64);
  for (size_t shift = 0; shift < 8; ++shift) {
    for (size_t length = 0; length <= kMaxLength; ++length) {
      std::fill(buffer.begin(), buffer.end(), 0x11);
      pattern_fill(buffer.data() + 8 + shift, length, kByte);
      for (size_t i = 0; i < buffer.size(); ++i) {
        bool inside = i >= 8 + shift && i < 8 + shift + length;
        ASSERT_EQ(buffer[i], inside ? kByte : 0x11)
            << "length " << length << " shift " << shift << " byte " << i;
      }
    }
  }
}

TEST(FillPatterns, CleanRangeHasNoMismatch) {
  std::vector<unsigned char> buffer(kMaxLength + 16, kByte);
  for (size_t shift = 0; shift < 8; ++shift)
    for (size_t length = 0; length <= kMaxLength; ++length)
      EXPECT_EQ(pattern_first_mismatch(buffer.data() + shift, length, kByte), SIZE_MAX);
}

TEST(FillPatterns, FindsTheFirstChangedByteAnywhere) {
  std::vector<unsigned char> buffer(kMaxLength + 16);
  for (size_t shift = 0; shift < 8; ++shift) {
    for (size_t length = 1; length <= kMaxLength; ++length) {
      for (size_t changed = 0; changed < length; ++changed) {
        std::fill(buffer.begin(), buffer.end(), kByte);
        buffer[shift + changed] = 0x00;
        if (changed + 5 < length) buffer[shift + changed + 5] = 0x00;  // a later one too
        ASSERT_EQ(pattern_first_mismatch(buffer.data() + shift, length, kByte), changed)
            << "length " << length << " shift " << shift;
      }
    }
  }
}

TEST(FillPatterns, ChangesOutsideTheRangeDoNotCount) {
  std::vector<unsigned char> buffer(kMaxLength + 16, kByte);
  buffer[3] = 0;  // before
  for (size_t length = 0; length + 8 <= kMaxLength; ++length) {
    buffer[4 + length] = 0;  // just after
    EXPECT_EQ(pattern_first_mismatch(buffer.data() + 4, length, kByte), SIZE_MAX);
    buffer[4 + length] = kByte;
  }
}

}  // namespace
}  // namespace tally
