// Use after free, read, in another thread than the one that freed: a worker computes a
// result and publishes it through a cache, then evicts (frees) it; the main thread reads
// the published pointer after joining the worker. Allocated and freed in T1, read in T0.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: read_result
// TALLY-EXPECT-FREE-FRAME: evict_result
// TALLY-EXPECT-ALLOC-FRAME: compute_result
// TALLY-EXPECT-FREE-THREAD: T[1-9][0-9]*
// TALLY-EXPECT-ALLOC-THREAD: T[1-9][0-9]*
#include <pthread.h>

#include "tally_test.h"

struct result {
  long key;
  double value;
  long hits;
};

static struct result* published;

static TT_NOINLINE struct result* compute_result(long key) {
  struct result* result = (struct result*)malloc(sizeof(struct result));
  TT_CHECK(result != NULL);
  result->key = key;
  result->value = (double)key * 1.5;
  result->hits = 0;
  return result;
}

static TT_NOINLINE void evict_result(struct result* result) {
  free(result);
}

static TT_NOINLINE void* worker_main(void* argument) {
  (void)argument;
  struct result* result = compute_result(12);
  published = result;   /* published... */
  evict_result(result); /* ...and evicted before anyone read it */
  return NULL;
}

static TT_NOINLINE double read_result(const struct result* result) {
  tt_note_bad_access(&result->value, sizeof(result->value), result, sizeof(struct result));
  double value = result->value;
  tt_after_bad_access();
  return value;
}

int main(void) {
  pthread_t worker;
  TT_CHECK(pthread_create(&worker, NULL, worker_main, NULL) == 0);
  TT_CHECK(pthread_join(worker, NULL) == 0);
  tt_consume((unsigned long)read_result(published));
  return 0;
}
