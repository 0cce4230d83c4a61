// Mismatched deallocation, new[] / delete: a byte buffer allocated with new char[] is
// released with delete (without []). No destructor to run, so only the mismatch is
// wrong.
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: release_storage
// TALLY-EXPECT-ALLOC-FRAME: allocate_storage
#include <cstring>

#include "tally_test.h"

namespace {

constexpr unsigned kPacketBytes = 1500;

TT_NOINLINE char* allocate_storage(unsigned bytes) {
  return new char[bytes];
}

TT_NOINLINE void release_storage(char* storage) {
  tt_note_bad_free(storage, storage, kPacketBytes);
  delete storage;  // should be delete[]
}

class Packet {
 public:
  Packet() : bytes_(allocate_storage(kPacketBytes)) { std::memset(bytes_, 0, kPacketBytes); }
  ~Packet() { release_storage(bytes_); }
  char* bytes() { return bytes_; }

 private:
  char* bytes_;
};

}  // namespace

int main() {
  {
    Packet packet;
    std::memcpy(packet.bytes(), "\x45\x00\x05\xdc", 4);
  }
  tt_survived();
  return 0;
}
