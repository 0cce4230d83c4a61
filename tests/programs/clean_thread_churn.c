// Clean: many short-lived threads; each allocates, frees some blocks and exits while still
// owning others, which the main thread frees after the owner is gone.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <pthread.h>

#include "tally_test.h"

#define ROUNDS 40
#define THREADS_PER_ROUND 8
#define KEPT_PER_THREAD 32

struct work {
  unsigned id;
  void* kept[KEPT_PER_THREAD];
  size_t kept_size[KEPT_PER_THREAD];
};

static TT_NOINLINE void* short_lived(void* argument) {
  struct work* work = (struct work*)argument;
  void* temporary[100];
  for (unsigned i = 0; i < 100; ++i) {
    temporary[i] = malloc(8 + (i * 13u + work->id) % 2000);
    TT_CHECK(temporary[i] != NULL);
  }
  for (unsigned i = 0; i < KEPT_PER_THREAD; ++i) {
    work->kept_size[i] = 1 + (i * 97u + work->id) % 5000;
    work->kept[i] = malloc(work->kept_size[i]);
    TT_CHECK(work->kept[i] != NULL);
    tt_fill(work->kept[i], work->kept_size[i], work->id + i);
  }
  for (unsigned i = 0; i < 100; ++i) free(temporary[i]);
  return NULL; /* exits still owning work->kept */
}

int main(void) {
  static struct work works[THREADS_PER_ROUND];
  for (unsigned round = 0; round < ROUNDS; ++round) {
    pthread_t threads[THREADS_PER_ROUND];
    for (unsigned t = 0; t < THREADS_PER_ROUND; ++t) {
      works[t].id = round * THREADS_PER_ROUND + t;
      TT_CHECK(pthread_create(&threads[t], NULL, short_lived, &works[t]) == 0);
    }
    for (unsigned t = 0; t < THREADS_PER_ROUND; ++t) {
      TT_CHECK(pthread_join(threads[t], NULL) == 0);
    }
    for (unsigned t = 0; t < THREADS_PER_ROUND; ++t) {
      for (unsigned i = 0; i < KEPT_PER_THREAD; ++i) {
        TT_CHECK(tt_verify(works[t].kept[i], works[t].kept_size[i], works[t].id + i));
        free(works[t].kept[i]);
      }
    }
  }
  return 0;
}
