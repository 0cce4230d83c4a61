// Use after free, read via memcpy: a cache lookup returns a pointer to the cached value;
// inserting another key evicts (frees) it; the caller then copies the value out.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: copy_value
// TALLY-EXPECT-FREE-FRAME: cache_insert
// TALLY-EXPECT-ALLOC-FRAME: cache_insert
#include <string.h>

#include "tally_test.h"

#define VALUE_BYTES 96

struct cache {
  long key;
  char* value; /* one slot: inserting evicts */
};

static TT_NOINLINE void cache_insert(struct cache* cache, long key, char fill) {
  free(cache->value);
  cache->key = key;
  cache->value = (char*)malloc(VALUE_BYTES);
  TT_CHECK(cache->value != NULL);
  memset(cache->value, fill, VALUE_BYTES);
}

static TT_NOINLINE const char* cache_lookup(struct cache* cache, long key) {
  return cache->key == key ? cache->value : NULL;
}

static TT_NOINLINE void copy_value(char* out, const char* value) {
  memcpy(out, value, VALUE_BYTES);
}

int main(void) {
  struct cache cache = {0, NULL};
  cache_insert(&cache, 1, 'a');
  const char* value = cache_lookup(&cache, 1);
  TT_CHECK(value != NULL);
  cache_insert(&cache, 2, 'b'); /* evicts key 1: value dangles */
  char out[VALUE_BYTES];
  tt_note_bad_access(value, VALUE_BYTES, value, VALUE_BYTES);
  copy_value(out, value);
  tt_after_bad_access();
  tt_consume((unsigned long)out[0]);
  free(cache.value);
  return 0;
}
