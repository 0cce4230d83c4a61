// Free of an interior pointer through C++ multiple inheritance: a stream derives from a
// reader and a writer (neither with a virtual destructor), and is deleted through a
// pointer to its second base, which points 16 bytes into the object: operator delete gets
// a pointer that is not the start of the block.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 16 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: destroy_writer
// TALLY-EXPECT-SECTIONS[mode=debug,asan]: alloc
// TALLY-EXPECT-ALLOC-FRAME: open_stream
#include "tally_test.h"

namespace {

struct Reader {
  long read_position = 0;
  long read_limit = 0;
};

struct Writer {
  long write_position = 0;
  TT_NOINLINE void write(long bytes) { write_position += bytes; }
};

struct Stream : Reader, Writer {
  char buffer[64] = {};
};

TT_NOINLINE Writer* open_stream() {
  Stream* stream = new Stream();
  return stream;  // converted to its second base: 16 bytes in
}

TT_NOINLINE void destroy_writer(Writer* writer) {
  delete writer;  // not the pointer new returned
}

}  // namespace

int main() {
  Writer* writer = open_stream();
  writer->write(128);
  Stream* stream = static_cast<Stream*>(writer);
  TT_PRECONDITION(reinterpret_cast<char*>(writer) - reinterpret_cast<char*>(stream) == 16);
  tt_note_bad_free(writer, stream, sizeof(Stream));
  destroy_writer(writer);
  tt_survived();
  return 0;
}
