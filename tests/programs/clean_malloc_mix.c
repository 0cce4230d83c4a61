// Clean: a long random mix of malloc/calloc/realloc/free over small, medium and large
// sizes, with every block's contents verified before it is touched again.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <malloc.h>
#include <string.h>

#include "tally_test.h"

#define SLOTS 1024
#define OPERATIONS 60000

struct slot {
  unsigned char* data;
  size_t size;
  unsigned seed;
};

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static unsigned next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)rng_state;
}

static size_t random_size(void) {
  unsigned pick = next_random() % 1000;
  if (pick < 700) return next_random() % 256;         /* small */
  if (pick < 980) return 256 + next_random() % 32768; /* medium */
  return (1u << 20) + next_random() % (3u << 20);     /* large: own mapping */
}

static TT_NOINLINE void check_slot(const struct slot* slot) {
  if (slot->data == NULL) return;
  TT_CHECK(malloc_usable_size(slot->data) >= slot->size);
  TT_CHECK(tt_verify(slot->data, slot->size, slot->seed));
}

static TT_NOINLINE void operate(struct slot* slot, unsigned serial) {
  check_slot(slot);
  switch (next_random() % 4) {
    case 0: /* free (maybe NULL) then malloc */
      free(slot->data);
      slot->size = random_size();
      slot->data = (unsigned char*)malloc(slot->size);
      TT_CHECK(slot->data != NULL);
      break;
    case 1: { /* calloc: must be zeroed */
      free(slot->data);
      size_t count = 1 + next_random() % 64;
      size_t each = 1 + random_size() / 64;
      slot->size = count * each;
      slot->data = (unsigned char*)calloc(count, each);
      TT_CHECK(slot->data != NULL);
      for (size_t i = 0; i < slot->size; ++i) TT_CHECK(slot->data[i] == 0);
      break;
    }
    case 2: { /* realloc: keeps the common prefix */
      size_t new_size = random_size();
      if (new_size == 0) new_size = 1; /* realloc(p, 0) is covered by clean_edge_cases */
      unsigned char* grown = (unsigned char*)realloc(slot->data, new_size);
      TT_CHECK(grown != NULL);
      size_t common = slot->size < new_size ? slot->size : new_size;
      if (slot->data != NULL) TT_CHECK(tt_verify(grown, common, slot->seed));
      slot->data = grown;
      slot->size = new_size;
      break;
    }
    default: /* plain free */
      free(slot->data);
      slot->data = NULL;
      slot->size = 0;
      return;
  }
  slot->seed = serial;
  tt_fill(slot->data, slot->size, slot->seed);
}

int main(void) {
  static struct slot slots[SLOTS];
  for (unsigned i = 0; i < OPERATIONS; ++i) operate(&slots[next_random() % SLOTS], i);
  for (unsigned i = 0; i < SLOTS; ++i) {
    check_slot(&slots[i]);
    free(slots[i].data);
  }
  return 0;
}
