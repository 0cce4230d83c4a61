// Use after free, write, small block: a stream is closed (freed) while a write is still in
// flight, and the completion callback stores the status into the freed stream. safe mode
// finds the damaged poison when the block leaves the quarantine (at exit at the latest) and
// reports it with the free and allocation stacks; debug mode and ASan catch the store
// itself. In safe mode sampling is off: the test is of the poison check (no sampled guard
// page may catch the write first).
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: on_write_complete
// TALLY-EXPECT-FREE-FRAME: close_stream
// TALLY-EXPECT-ALLOC-FRAME: open_stream
#include <string.h>

#include "tally_test.h"

struct stream {
  int descriptor;
  int last_status;
  unsigned long bytes_written;
  char name[40];
};

static TT_NOINLINE struct stream* open_stream(const char* name) {
  struct stream* stream = (struct stream*)calloc(1, sizeof(struct stream));
  TT_CHECK(stream != NULL);
  stream->descriptor = 7;
  strncpy(stream->name, name, sizeof(stream->name) - 1);
  return stream;
}

static TT_NOINLINE void close_stream(struct stream* stream) {
  free(stream);
}

static TT_NOINLINE void on_write_complete(struct stream* stream, int status) {
  tt_note_bad_access(&stream->last_status, sizeof(stream->last_status), stream,
                     sizeof(struct stream));
  stream->last_status = status; /* a pure store: the stream was closed meanwhile */
  tt_after_bad_access();
}

int main(void) {
  struct stream* stream = open_stream("uploads.log");
  stream->bytes_written = 512;
  close_stream(stream);
  on_write_complete(stream, 0x1234);
  return 0;
}
