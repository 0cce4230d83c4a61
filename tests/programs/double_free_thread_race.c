// Two threads race to free the same block: both drop their "last reference" right after a
// barrier. Exactly one of the two frees is the double free, so exactly one report must
// appear, from one of the racing threads (never the main thread), while two more threads
// keep allocating and verifying their blocks: the report must not deadlock or crash them.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T[1-9][0-9]*
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: drop_reference
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "tally_test.h"

#define CHURNERS 2
#define SHARED_BYTES 96

static pthread_barrier_t race_start;
static void* shared_block;
static atomic_int stop_churning;

static TT_NOINLINE void drop_reference(void* block) {
  free(block);
}

static TT_NOINLINE void* racer(void* argument) {
  (void)argument;
  pthread_barrier_wait(&race_start);
  drop_reference(shared_block); /* both racers believe they hold the last reference */
  return NULL;
}

static TT_NOINLINE void* churner(void* argument) {
  unsigned seed = (unsigned)(uintptr_t)argument;
  void* slots[64] = {0};
  size_t sizes[64] = {0};
  unsigned round = 0;
  while (!atomic_load(&stop_churning)) {
    unsigned slot = (seed * 2654435761u + round) % 64;
    if (slots[slot] != NULL) {
      TT_CHECK(tt_verify(slots[slot], sizes[slot], seed + slot));
      free(slots[slot]);
    }
    /* 1 KiB..4 KiB: never the size class of the raced block (96 bytes), so a churner
     * cannot be handed that block between the two racing frees */
    sizes[slot] = 1024 + (round * 37u) % 3000;
    slots[slot] = malloc(sizes[slot]);
    TT_CHECK(slots[slot] != NULL);
    tt_fill(slots[slot], sizes[slot], seed + slot);
    ++round;
  }
  for (unsigned slot = 0; slot < 64; ++slot) free(slots[slot]);
  return NULL;
}

int main(void) {
  pthread_t churners[CHURNERS];
  for (uintptr_t i = 0; i < CHURNERS; ++i) {
    TT_CHECK(pthread_create(&churners[i], NULL, churner, (void*)(i + 1)) == 0);
  }
  shared_block = malloc(SHARED_BYTES);
  TT_CHECK(shared_block != NULL);
  memset(shared_block, 's', SHARED_BYTES);
  TT_CHECK(pthread_barrier_init(&race_start, NULL, 2) == 0);
  tt_note_bad_free(shared_block, shared_block, SHARED_BYTES);
  pthread_t racers[2];
  for (int i = 0; i < 2; ++i) TT_CHECK(pthread_create(&racers[i], NULL, racer, NULL) == 0);
  for (int i = 0; i < 2; ++i) TT_CHECK(pthread_join(racers[i], NULL) == 0);
  tt_survived();
  atomic_store(&stop_churning, 1);
  for (int i = 0; i < CHURNERS; ++i) TT_CHECK(pthread_join(churners[i], NULL) == 0);
  pthread_barrier_destroy(&race_start);
  return 0;
}
