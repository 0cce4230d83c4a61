// Free of memory that came from mmap, not malloc: an arena mapped directly from the kernel
// hands out its first buffer (just past the arena header), which is then given to free.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-FRAME: dispose_buffer
#include <string.h>
#include <sys/mman.h>

#include "tally_test.h"

#define ARENA_BYTES (64u * 1024)

struct arena {
  size_t used;
  size_t capacity;
  unsigned char padding[48];
  unsigned char data[];
};

static TT_NOINLINE struct arena* map_arena(void) {
  void* memory =
      mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  TT_CHECK(memory != MAP_FAILED);
  struct arena* arena = (struct arena*)memory;
  arena->used = 0;
  arena->capacity = ARENA_BYTES - sizeof(struct arena);
  return arena;
}

static TT_NOINLINE void* arena_take(struct arena* arena, size_t bytes) {
  void* result = arena->data + arena->used;
  arena->used += bytes;
  return result;
}

static TT_NOINLINE void dispose_buffer(void* buffer) {
  free(buffer);
}

int main(void) {
  struct arena* arena = map_arena();
  char* buffer = (char*)arena_take(arena, 256);
  strcpy(buffer, "arena-backed");
  tt_note_bad_free(buffer, NULL, 0);
  dispose_buffer(buffer); /* should have been returned to the arena */
  tt_survived();
  munmap(arena, ARENA_BYTES);
  return 0;
}
