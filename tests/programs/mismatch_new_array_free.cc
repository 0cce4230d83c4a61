// Mismatched deallocation, new[] / free: a C++ encoder fills a buffer allocated with
// new unsigned char[] and hands it to C code that takes ownership and frees it with
// free().
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: sink_consume
// TALLY-EXPECT-ALLOC-FRAME: encode_message
#include <cstdlib>
#include <cstring>

#include "tally_test.h"

namespace {

constexpr std::size_t kEncodedBytes = 90;

TT_NOINLINE unsigned char* encode_message(const char* text) {
  unsigned char* encoded = new unsigned char[kEncodedBytes];
  std::memset(encoded, 0, kEncodedBytes);
  std::strncpy(reinterpret_cast<char*>(encoded) + 2, text, kEncodedBytes - 3);
  encoded[0] = 0x01;
  return encoded;
}

}  // namespace

extern "C" TT_NOINLINE void sink_consume(void* message) {
  tt_note_bad_free(message, message, kEncodedBytes);
  std::free(message);  // the C sink owns what it is given
}

int main() {
  unsigned char* encoded = encode_message("status: ok");
  sink_consume(encoded);
  tt_survived();
  return 0;
}
