// Clean: eight threads run a storm of mixed calls (malloc, calloc, realloc, posix_memalign,
// aligned_alloc, free) over one shared table of slots, each slot behind its own mutex, so
// blocks are reallocated and freed by other threads than the ones that allocated them,
// and aligned blocks are reallocated (realloc keeps the contents, not the alignment).
// Sizes from 1 byte to 300 KB, so small, medium, large and (in debug mode) guarded blocks
// all take part. Every block's head and last byte are verified before it is touched
// again, and what realloc kept is verified after it.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 180
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

#define THREADS 8
#define SLOTS 512
#define OPERATIONS 20000
#define HEAD_BYTES 32

struct slot {
  pthread_mutex_t lock;
  unsigned char* block;
  size_t size;
  unsigned seed;
};

static struct slot slots[SLOTS];

/* The pattern covers the first bytes of a block, short of its last byte (marked apart). */
static size_t head_bytes(size_t size) {
  return size - 1 < HEAD_BYTES ? size - 1 : HEAD_BYTES;
}

static void mark(struct slot* slot) {
  tt_fill(slot->block, head_bytes(slot->size), slot->seed);
  slot->block[slot->size - 1] = (unsigned char)slot->seed;
}

static TT_NOINLINE void verify(const struct slot* slot) {
  if (slot->block == NULL) return;
  if (!tt_verify(slot->block, head_bytes(slot->size), slot->seed) ||
      slot->block[slot->size - 1] != (unsigned char)slot->seed)
    TT_FAIL("block %p of %zu bytes was corrupted", (void*)slot->block, slot->size);
}

static TT_NOINLINE void* aligned_block(unsigned* random, size_t size) {
  if (rand_r(random) % 2 == 0) {
    void* block = NULL;
    TT_CHECK(posix_memalign(&block, 64, size) == 0);
    TT_CHECK(((uintptr_t)block & 63) == 0);
    return block;
  }
  size_t rounded = (size + 255) & ~(size_t)255;
  void* block = aligned_alloc(256, rounded);
  TT_CHECK(block != NULL && ((uintptr_t)block & 255) == 0);
  return block;
}

static TT_NOINLINE void* storm(void* argument) {
  unsigned random = (unsigned)(uintptr_t)argument * 7919u;
  for (int i = 0; i < OPERATIONS; ++i) {
    struct slot* slot = &slots[rand_r(&random) % SLOTS];
    size_t size = (rand_r(&random) % 100 == 0) ? 1 + (size_t)rand_r(&random) % 300000
                                               : 1 + (size_t)rand_r(&random) % 512;
    pthread_mutex_lock(&slot->lock);
    verify(slot);
    unsigned seed = (unsigned)rand_r(&random);
    switch (rand_r(&random) % 6) {
      case 0:
        free(slot->block);
        slot->block = (unsigned char*)malloc(size);
        TT_CHECK(slot->block != NULL);
        break;
      case 1:
        free(slot->block);
        slot->block = (unsigned char*)calloc(1, size);
        TT_CHECK(slot->block != NULL);
        for (size_t j = 0; j < size; j += 4096) TT_CHECK(slot->block[j] == 0);
        TT_CHECK(slot->block[size - 1] == 0);
        break;
      case 2: {
        size_t kept = slot->block != NULL ? head_bytes(slot->size) : 0;
        if (kept > size) kept = size;
        slot->block = (unsigned char*)realloc(slot->block, size);
        TT_CHECK(slot->block != NULL);
        if (!tt_verify(slot->block, kept, slot->seed)) TT_FAIL("realloc lost the contents");
        break;
      }
      case 3:
      case 4:
        free(slot->block);
        slot->block = (unsigned char*)aligned_block(&random, size);
        break;
      default:
        free(slot->block);
        slot->block = NULL;
        break;
    }
    if (slot->block != NULL) {
      slot->size = size;
      slot->seed = seed;
      mark(slot);
    }
    pthread_mutex_unlock(&slot->lock);
  }
  return NULL;
}

int main(void) {
  for (int i = 0; i < SLOTS; ++i) TT_CHECK(pthread_mutex_init(&slots[i].lock, NULL) == 0);
  pthread_t threads[THREADS];
  for (uintptr_t i = 0; i < THREADS; ++i)
    TT_CHECK(pthread_create(&threads[i], NULL, storm, (void*)(i + 1)) == 0);
  for (int i = 0; i < THREADS; ++i) TT_CHECK(pthread_join(threads[i], NULL) == 0);
  for (int i = 0; i < SLOTS; ++i) {
    verify(&slots[i]);
    free(slots[i].block);
  }
  return 0;
}
