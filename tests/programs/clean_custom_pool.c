// Clean: a custom object pool on top of malloc. The pool takes big chunks from malloc,
// carves them into objects, keeps its own free list inside the free objects (so it
// writes into objects the program has "freed" to the pool, which is legitimate: the
// chunk is live as far as malloc knows), and returns the chunks with free() at the end.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

#define OBJECT_BYTES 48
#define OBJECTS_PER_CHUNK 1000
#define MAX_CHUNKS 64

union slot {
  union slot* next;
  unsigned char bytes[OBJECT_BYTES];
};

struct pool {
  union slot* free_list;
  void* chunks[MAX_CHUNKS];
  int chunk_count;
};

static TT_NOINLINE void pool_refill(struct pool* pool) {
  TT_CHECK(pool->chunk_count < MAX_CHUNKS);
  union slot* chunk = (union slot*)malloc(sizeof(union slot) * OBJECTS_PER_CHUNK);
  TT_CHECK(chunk != NULL);
  pool->chunks[pool->chunk_count++] = chunk;
  for (int i = 0; i < OBJECTS_PER_CHUNK; ++i) {
    chunk[i].next = pool->free_list;
    pool->free_list = &chunk[i];
  }
}

static TT_NOINLINE void* pool_get(struct pool* pool) {
  if (pool->free_list == NULL) pool_refill(pool);
  union slot* slot = pool->free_list;
  pool->free_list = slot->next;
  return slot;
}

static TT_NOINLINE void pool_put(struct pool* pool, void* object) {
  union slot* slot = (union slot*)object;
  slot->next = pool->free_list; /* writes into the returned object: the pool's right */
  pool->free_list = slot;
}

static TT_NOINLINE void pool_destroy(struct pool* pool) {
  for (int i = 0; i < pool->chunk_count; ++i) free(pool->chunks[i]);
  pool->chunk_count = 0;
  pool->free_list = NULL;
}

int main(void) {
  static struct pool pool;
  static void* live[20000];
  unsigned state = 1;
  int count = 0;
  for (int step = 0; step < 200000; ++step) {
    state = state * 1103515245u + 12345u;
    if (count < 20000 && (count == 0 || (state >> 16) % 3 != 0)) {
      unsigned char* object = (unsigned char*)pool_get(&pool);
      memset(object, (int)(count & 0xff), OBJECT_BYTES);
      live[count++] = object;
    } else {
      int victim = (int)((state >> 8) % (unsigned)count);
      unsigned char* object = (unsigned char*)live[victim];
      TT_CHECK(object[OBJECT_BYTES - 1] == object[0]);
      live[victim] = live[--count];
      pool_put(&pool, object);
    }
  }
  pool_destroy(&pool);
  return 0;
}
