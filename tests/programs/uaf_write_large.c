// Use after free, write, large block (1.5 MB): an upload is discarded (freed) on a
// timeout, then the completion path marks it done in its header. safe mode finds the
// damaged poison (the header is at the start of the block); debug mode with its default
// guard_max_size does not put guard pages around a block this big, so it may find the
// write at the access or only later: the kind and the stacks are what matter. fast mode
// makes no promise about a freed large mapping: exit 0 or SIGSEGV.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-STATUS[mode=fast]: 0|SIGSEGV
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=asan]: finish_upload
// TALLY-EXPECT-FREE-FRAME: discard_upload
// TALLY-EXPECT-ALLOC-FRAME: begin_upload
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

#define UPLOAD_BYTES (1536u * 1024u + 100u)

struct upload {
  uint32_t magic;
  uint32_t state;
  uint64_t length;
  unsigned char data[];
};

static TT_NOINLINE struct upload* begin_upload(void) {
  struct upload* upload = (struct upload*)malloc(UPLOAD_BYTES);
  TT_CHECK(upload != NULL);
  upload->magic = 0x55504c44;
  upload->state = 1;
  upload->length = UPLOAD_BYTES - sizeof(struct upload);
  memset(upload->data, 'u', 4096);
  return upload;
}

static TT_NOINLINE void discard_upload(struct upload* upload) {
  free(upload);
}

static TT_NOINLINE void finish_upload(struct upload* upload) {
  tt_note_bad_access(&upload->state, sizeof(upload->state), upload, UPLOAD_BYTES);
  upload->state = 3; /* done: but the upload was discarded */
  tt_after_bad_access();
}

int main(void) {
  struct upload* upload = begin_upload();
  discard_upload(upload);
  finish_upload(upload);
  return 0;
}
