// halt_on_error=0: 200 rounds of two threads racing to free the same block after a
// barrier, while two more threads allocate and verify blocks of other sizes. Every round
// has exactly one double free, so exactly 200 reports must appear (never two for one
// round, never none), and the heap must stay consistent throughout.
// TALLY-OPTIONS: halt_on_error=0
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 0
// TALLY-EXPECT-COUNT: 200
// TALLY-EXPECT-THREAD: T[1-9][0-9]*
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: drop_reference
// TALLY-TIMEOUT: 180
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "tally_test.h"

#define ROUNDS 200
#define CHURNERS 2

static pthread_barrier_t round_start, round_end;
static void* shared_block;
static size_t shared_size;
static atomic_int stop_churning;

static TT_NOINLINE void drop_reference(void* block) {
  free(block);
}

static TT_NOINLINE void* racer(void* argument) {
  (void)argument;
  for (int round = 0; round < ROUNDS; ++round) {
    pthread_barrier_wait(&round_start);
    drop_reference(shared_block);
    pthread_barrier_wait(&round_end);
  }
  return NULL;
}

static TT_NOINLINE void* churner(void* argument) {
  unsigned seed = (unsigned)(uintptr_t)argument;
  void* slots[64] = {0};
  size_t sizes[64] = {0};
  unsigned round = 0;
  while (!atomic_load(&stop_churning)) {
    unsigned slot = (seed * 2654435761u + round * 11u) % 64;
    if (slots[slot] != NULL) {
      if (!tt_verify(slots[slot], sizes[slot], seed * 64 + slot)) {
        TT_FAIL("churner %u: block %p (%zu bytes) was overwritten", seed, slots[slot], sizes[slot]);
      }
      free(slots[slot]);
    }
    /* 1 KiB..4 KiB: never the size class of the raced block, so a churner can never be
     * handed the block between the two racing frees (which would make the second free
     * look legitimate) */
    sizes[slot] = 1024 + (round * 37u) % 3000;
    slots[slot] = malloc(sizes[slot]);
    TT_CHECK(slots[slot] != NULL);
    tt_fill(slots[slot], sizes[slot], seed * 64 + slot);
    ++round;
  }
  for (unsigned slot = 0; slot < 64; ++slot) free(slots[slot]);
  return NULL;
}

int main(void) {
  pthread_t churners[CHURNERS], racers[2];
  for (uintptr_t i = 0; i < CHURNERS; ++i) {
    TT_CHECK(pthread_create(&churners[i], NULL, churner, (void*)(i + 1)) == 0);
  }
  /* main + two racers meet at each barrier */
  TT_CHECK(pthread_barrier_init(&round_start, NULL, 3) == 0);
  TT_CHECK(pthread_barrier_init(&round_end, NULL, 3) == 0);
  for (int i = 0; i < 2; ++i) TT_CHECK(pthread_create(&racers[i], NULL, racer, NULL) == 0);
  for (int round = 0; round < ROUNDS; ++round) {
    shared_size = 16 + (size_t)(round % 8) * 48; /* 16..352 bytes */
    shared_block = malloc(shared_size);
    TT_CHECK(shared_block != NULL);
    memset(shared_block, 's', shared_size);
    tt_note_bad_free(shared_block, shared_block, shared_size);
    pthread_barrier_wait(&round_start);
    pthread_barrier_wait(&round_end);
  }
  for (int i = 0; i < 2; ++i) TT_CHECK(pthread_join(racers[i], NULL) == 0);
  tt_survived();
  atomic_store(&stop_churning, 1);
  for (int i = 0; i < CHURNERS; ++i) TT_CHECK(pthread_join(churners[i], NULL) == 0);
  /* the heap still works: a burst of allocations of the raced sizes, all distinct */
  void* check[512];
  for (int i = 0; i < 512; ++i) {
    check[i] = malloc(16 + (size_t)(i % 8) * 48);
    TT_CHECK(check[i] != NULL);
    tt_fill(check[i], 16, (unsigned)i);
  }
  for (int i = 0; i < 512; ++i) TT_CHECK(tt_verify(check[i], 16, (unsigned)i));
  for (int i = 0; i < 512; ++i) free(check[i]);
  return 0;
}
