// Clean: blocks freed during thread exit, from pthread_key destructors (and allocated in
// them too), while the thread's own allocator state is being torn down; then freed in
// another thread after their owner exited. 32 threads in waves of 8.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <pthread.h>
#include <string.h>

#include "tally_test.h"

#define WAVES 4
#define PER_WAVE 8
#define LEFTOVERS 64

static pthread_key_t scratch_key;
static void* leftovers[WAVES * PER_WAVE][LEFTOVERS];

static void destroy_scratch(void* scratch) {
  /* Allocating and freeing while the thread exits. */
  char* note = (char*)malloc(300);
  TT_CHECK(note != NULL);
  memset(note, 'x', 300);
  free(note);
  free(scratch);
}

static TT_NOINLINE void* worker(void* argument) {
  int index = (int)(intptr_t)argument;
  char* scratch = (char*)malloc(5000);
  TT_CHECK(scratch != NULL);
  memset(scratch, 's', 5000);
  TT_CHECK(pthread_setspecific(scratch_key, scratch) == 0);
  for (int i = 0; i < LEFTOVERS; ++i) {
    size_t size = 16 + (size_t)(i * 61) % 1000;
    leftovers[index][i] = malloc(size);
    TT_CHECK(leftovers[index][i] != NULL);
    tt_fill(leftovers[index][i], size, (unsigned)(index + i));
  }
  return NULL;
}

int main(void) {
  TT_CHECK(pthread_key_create(&scratch_key, destroy_scratch) == 0);
  for (int wave = 0; wave < WAVES; ++wave) {
    pthread_t threads[PER_WAVE];
    for (int i = 0; i < PER_WAVE; ++i)
      TT_CHECK(pthread_create(&threads[i], NULL, worker, (void*)(intptr_t)(wave * PER_WAVE + i)) ==
               0);
    for (int i = 0; i < PER_WAVE; ++i) TT_CHECK(pthread_join(threads[i], NULL) == 0);
  }
  for (int index = 0; index < WAVES * PER_WAVE; ++index) {
    for (int i = 0; i < LEFTOVERS; ++i) {
      size_t size = 16 + (size_t)(i * 61) % 1000;
      if (!tt_verify(leftovers[index][i], size, (unsigned)(index + i)))
        TT_FAIL("block of exited thread %d changed", index);
      free(leftovers[index][i]);
    }
  }
  pthread_key_delete(scratch_key);
  return 0;
}
