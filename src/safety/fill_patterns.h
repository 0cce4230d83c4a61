// Filling and verifying the poison of quarantined blocks and the canaries in slack.
// Both run on every checked free (and every release from quarantine), mostly over a few
// dozen to a few hundred bytes, so the short cases are written out: word stores instead
// of a call (or `rep stos`, slow to start), and verification that tests four words per
// branch and narrows down to the first changed byte only when one differs.
#pragma once

#include <stdint.h>
#include <string.h>

#include "core/config.h"

namespace tally {

namespace fill_detail {
TALLY_INLINE uint64_t load_word(const unsigned char* at) {
  uint64_t word;
  memcpy(&word, at, sizeof word);
  return word;
}
TALLY_INLINE void store_word(unsigned char* at, uint64_t word) {
  memcpy(at, &word, sizeof word);
}
}  // namespace fill_detail

TALLY_INLINE void pattern_fill(void* start, size_t length, uint8_t byte) {
  unsigned char* bytes = static_cast<unsigned char*>(start);
  if (length > 64 || length < 8) {
    memset(start, byte, length);
    return;
  }
  uint64_t word = 0x0101010101010101ull * byte;
  // 8 to 64 bytes: whole words, the last one overlapping the one before it.
  for (size_t offset = 0; offset + 8 < length; offset += 8)
    fill_detail::store_word(bytes + offset, word);
  fill_detail::store_word(bytes + length - 8, word);
}

// Offset of the first byte of [start, start+length) that is not `byte`, or SIZE_MAX.
inline size_t pattern_first_mismatch(const void* start, size_t length, uint8_t byte) {
  using fill_detail::load_word;
  const unsigned char* bytes = static_cast<const unsigned char*>(start);
  const uint64_t pattern = 0x0101010101010101ull * byte;
  size_t offset = 0;
  for (; offset + 32 <= length; offset += 32) {
    uint64_t differences =
        (load_word(bytes + offset) ^ pattern) | (load_word(bytes + offset + 8) ^ pattern) |
        (load_word(bytes + offset + 16) ^ pattern) | (load_word(bytes + offset + 24) ^ pattern);
    if (differences) break;
  }
  for (; offset + 8 <= length; offset += 8) {
    uint64_t difference = load_word(bytes + offset) ^ pattern;
    if (difference) return offset + static_cast<size_t>(__builtin_ctzll(difference)) / 8;
  }
  for (; offset < length; ++offset) {
    if (bytes[offset] != byte) return offset;
  }
  return SIZE_MAX;
}

}  // namespace tally
