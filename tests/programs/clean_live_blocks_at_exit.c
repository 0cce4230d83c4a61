// Clean: blocks of every shape are still live at exit, each written exactly to its size
// (odd sizes, calloc, realloc grown and shrunk, aligned allocations, strdup, a large block
// of an odd size, blocks allocated by a thread that is still running), all reachable from
// globals. Debug mode verifies the canaries of every live block at exit (and safe mode does
// here too, by option): a block whose canary the allocator itself left unwritten, or one
// it checked with the wrong size, would be a false report.
// TALLY-OPTIONS[mode=safe]: canaries_at_exit=1
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "tally_test.h"

#define KEPT 400
static void* g_kept[KEPT];
static size_t g_count;
static void* g_thread_blocks[64];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_ready = PTHREAD_COND_INITIALIZER;
static int g_thread_done;

static void keep(void* block, size_t size, unsigned seed) {
  TT_CHECK(block != NULL);
  tt_fill(block, size, seed);
  TT_CHECK(g_count < KEPT);
  g_kept[g_count++] = block;
}

static void* holder_thread(void* unused) {
  (void)unused;
  for (int i = 0; i < 64; ++i) {
    size_t size = 1 + (size_t)i * 13;
    g_thread_blocks[i] = malloc(size);
    TT_CHECK(g_thread_blocks[i] != NULL);
    tt_fill(g_thread_blocks[i], size, (unsigned)i);
  }
  pthread_mutex_lock(&g_lock);
  g_thread_done = 1;
  pthread_cond_signal(&g_ready);
  pthread_mutex_unlock(&g_lock);
  for (;;) pause(); /* still running, outside the allocator, when main exits */
  return NULL;
}

int main(void) {
  for (size_t size = 1; size <= 300; size += 3) keep(malloc(size), size, (unsigned)size);
  for (size_t count = 1; count <= 40; count += 3) keep(calloc(count, 7), count * 7, 1);
  for (size_t size = 5; size <= 2000; size += 199) {
    char* block = (char*)malloc(size);
    TT_CHECK(block != NULL);
    block = (char*)realloc(block, size * 3 + 1); /* grown */
    TT_CHECK(block != NULL);
    block = (char*)realloc(block, size + 1); /* shrunk */
    keep(block, size + 1, 7);
  }
  void* aligned = NULL;
  TT_CHECK(posix_memalign(&aligned, 64, 77) == 0);
  keep(aligned, 77, 3);
  keep(aligned_alloc(256, 512), 512, 4);
  keep(memalign(32, 45), 45, 5);
  char* copy = strdup("a string of thirty-one bytes..");
  TT_CHECK(copy != NULL);
  TT_CHECK(g_count < KEPT);
  g_kept[g_count++] = copy;
  keep(malloc(300001), 300001, 9); /* large, not a whole number of pages */

  pthread_t thread;
  TT_CHECK(pthread_create(&thread, NULL, holder_thread, NULL) == 0);
  pthread_mutex_lock(&g_lock);
  while (!g_thread_done) pthread_cond_wait(&g_ready, &g_lock);
  pthread_mutex_unlock(&g_lock);
  tt_say("%zu blocks kept by main, 64 by a running thread", g_count);
  return 0;
}
