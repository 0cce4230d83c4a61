// Filling and verifying the poison of quarantined blocks and the canaries in slack.
// Both run on every checked free (and every release from quarantine), mostly over a few
// dozen to a few hundred bytes, so the short cases are written out: vector and word
// stores instead of a call (or `rep stos`, slow to start), and verification that tests
// 32 bytes per branch and narrows down to the first changed byte only when one differs.
#pragma once

#include <stdint.h>
#include <string.h>

#include "core/config.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
// Hides a fill loop's counter from the optimizer, which otherwise sees the loop as a
// memset and emits `rep stos` in its place (gcc 12 at -O2 and -O3 did, in every checked
// free and allocation: the instruction's start-up was a fifth of a safe-mode free's time
// on small_churn). Costs nothing: no instruction, the counter only has to be in a register.
TALLY_INLINE void opaque(size_t& value) {
  __asm__("" : "+r"(value));
}
// Long fills (poison of big blocks, a large block's canary) go to the C library's memset,
// out of line: inlined, gcc expands it to `rep stos` in every caller.
TALLY_NOINLINE inline void fill_long(void* start, size_t length, uint8_t byte) {
  memset(start, byte, length);
}
}  // namespace fill_detail

TALLY_INLINE void pattern_fill(void* start, size_t length, uint8_t byte) {
  unsigned char* bytes = static_cast<unsigned char*>(start);
  uint64_t word = 0x0101010101010101ull * byte;
  if (length < 8) {
    // Canaries in a few bytes of slack: overlapping stores, no call.
    if (length >= 4) {
      uint32_t half = static_cast<uint32_t>(word);
      memcpy(bytes, &half, sizeof half);
      memcpy(bytes + length - 4, &half, sizeof half);
    } else {
      for (size_t i = 0; i < length; ++i) {
        bytes[i] = byte;
        fill_detail::opaque(i);
      }
    }
    return;
  }
  if (length > 256) return fill_detail::fill_long(start, length, byte);
#if defined(__SSE2__)
  if (length >= 16) {
    // Whole vectors, the last one overlapping the one before it.
    const __m128i pattern = _mm_set1_epi8(static_cast<char>(byte));
    for (size_t offset = 0; offset + 16 < length; offset += 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes + offset), pattern);
      fill_detail::opaque(offset);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes + length - 16), pattern);
    return;
  }
#endif
  // Whole words, the last one overlapping the one before it.
  for (size_t offset = 0; offset + 8 < length; offset += 8) {
    fill_detail::store_word(bytes + offset, word);
    fill_detail::opaque(offset);
  }
  fill_detail::store_word(bytes + length - 8, word);
}

// Offset of the first byte of [start, start+length) that is not `byte`, or SIZE_MAX.
inline size_t pattern_first_mismatch(const void* start, size_t length, uint8_t byte) {
  using fill_detail::load_word;
  const unsigned char* bytes = static_cast<const unsigned char*>(start);
  const uint64_t pattern = 0x0101010101010101ull * byte;
  size_t offset = 0;
#if defined(__SSE2__)
  // Two vectors per branch; a vector that differs is narrowed down below, a word at a time.
  const __m128i vector_pattern = _mm_set1_epi8(static_cast<char>(byte));
  for (; offset + 32 <= length; offset += 32) {
    __m128i first = _mm_cmpeq_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + offset)), vector_pattern);
    __m128i second = _mm_cmpeq_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + offset + 16)), vector_pattern);
    if (_mm_movemask_epi8(_mm_and_si128(first, second)) != 0xFFFF) break;
  }
#else
  for (; offset + 32 <= length; offset += 32) {
    uint64_t differences =
        (load_word(bytes + offset) ^ pattern) | (load_word(bytes + offset + 8) ^ pattern) |
        (load_word(bytes + offset + 16) ^ pattern) | (load_word(bytes + offset + 24) ^ pattern);
    if (differences) break;
  }
#endif
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
