// Filling and verifying the poison of quarantined blocks and the canaries in slack.
// Verification reads 8 bytes at a time and narrows down to the first changed byte.
#pragma once

#include <stdint.h>
#include <string.h>

#include "core/config.h"

namespace tally {

TALLY_INLINE void pattern_fill(void* start, size_t length, uint8_t byte) {
  memset(start, byte, length);
}

// Offset of the first byte of [start, start+length) that is not `byte`, or SIZE_MAX.
inline size_t pattern_first_mismatch(const void* start, size_t length, uint8_t byte) {
  const unsigned char* bytes = static_cast<const unsigned char*>(start);
  uint64_t word_pattern = 0x0101010101010101ull * byte;
  size_t offset = 0;
  while (offset < length && (reinterpret_cast<uintptr_t>(bytes + offset) & 7)) {
    if (bytes[offset] != byte) return offset;
    ++offset;
  }
  for (; offset + 8 <= length; offset += 8) {
    uint64_t word;
    memcpy(&word, bytes + offset, 8);
    if (word != word_pattern) break;
  }
  for (; offset < length; ++offset) {
    if (bytes[offset] != byte) return offset;
  }
  return SIZE_MAX;
}

}  // namespace tally
