// Double free across threads, with history: the main thread allocates a batch, a worker
// frees it when done (T1), and the main thread frees it again (T0). The report comes
// from T0 and names T1 as the thread that freed it, T0 as the one that allocated it.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: drop_batch
// TALLY-EXPECT-FREE-FRAME: process_batch
// TALLY-EXPECT-ALLOC-FRAME: make_batch
// TALLY-EXPECT-FREE-THREAD: T1
// TALLY-EXPECT-ALLOC-THREAD: T0
#include <pthread.h>
#include <string.h>

#include "tally_test.h"

#define BATCH_BYTES 640

static TT_NOINLINE unsigned char* make_batch(void) {
  unsigned char* batch = (unsigned char*)malloc(BATCH_BYTES);
  TT_CHECK(batch != NULL);
  memset(batch, 0x5a, BATCH_BYTES);
  return batch;
}

static TT_NOINLINE void* process_batch(void* argument) {
  unsigned char* batch = (unsigned char*)argument;
  unsigned sum = 0;
  for (int i = 0; i < BATCH_BYTES; ++i) sum += batch[i];
  TT_CHECK(sum == 0x5a * BATCH_BYTES);
  free(batch); /* the worker owns the batch once it has processed it */
  return NULL;
}

static TT_NOINLINE void drop_batch(unsigned char* batch) {
  free(batch);
}

int main(void) {
  unsigned char* batch = make_batch();
  pthread_t worker;
  TT_CHECK(pthread_create(&worker, NULL, process_batch, batch) == 0);
  TT_CHECK(pthread_join(worker, NULL) == 0);
  tt_note_bad_free(batch, batch, BATCH_BYTES);
  drop_batch(batch);
  tt_survived();
  return 0;
}
