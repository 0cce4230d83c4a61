// Clean: fork from a multi-threaded program while other threads are busy allocating. Each
// child allocates (including in a new thread), frees a block inherited from the parent,
// and exits; the parent checks that every child finished normally and in time (a child
// stuck on an allocator lock held by a thread that does not exist in the child is killed
// after a few seconds and reported).
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// ASan of LLVM 14 has no fork handlers: a child forked while another thread holds an ASan
// allocator lock deadlocks in malloc (this program's deadline catches it).
// ASAN-KNOWN-ISSUE: ASan (LLVM 14) is not fork-safe: the child deadlocks in ASan's malloc
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "tally_test.h"

#define BUSY_THREADS 3
#define FORKS 40
#define CHILD_DEADLINE_MS 10000

static atomic_int stop_busy;

static TT_NOINLINE void* busy_allocator(void* argument) {
  unsigned seed = (unsigned)(uintptr_t)argument;
  void* blocks[32] = {0};
  unsigned round = 0;
  while (!atomic_load(&stop_busy)) {
    unsigned slot = (round * 7u + seed) % 32;
    free(blocks[slot]);
    size_t size = (round % 50 == 0) ? 300000 : 16 + (round * 31u + seed) % 4000;
    blocks[slot] = malloc(size);
    TT_CHECK(blocks[slot] != NULL);
    memset(blocks[slot], (int)round, size < 64 ? size : 64);
    ++round;
  }
  for (int i = 0; i < 32; ++i) free(blocks[i]);
  return NULL;
}

static TT_NOINLINE void* child_thread(void* argument) {
  char* text = strdup((const char*)argument);
  TT_CHECK(text != NULL);
  free(text);
  return NULL;
}

static TT_NOINLINE void child_work(char* inherited) {
  TT_CHECK(strcmp(inherited, "from the parent") == 0);
  void* blocks[200];
  for (int i = 0; i < 200; ++i) {
    blocks[i] = malloc(1 + (size_t)(i * 53) % 6000);
    TT_CHECK(blocks[i] != NULL);
  }
  char* big = (char*)malloc(2u << 20);
  TT_CHECK(big != NULL);
  big = (char*)realloc(big, 3u << 20);
  TT_CHECK(big != NULL);
  pthread_t thread;
  TT_CHECK(pthread_create(&thread, NULL, child_thread, (void*)"child thread text") == 0);
  TT_CHECK(pthread_join(thread, NULL) == 0);
  for (int i = 0; i < 200; ++i) free(blocks[i]);
  free(big);
  free(inherited); /* allocated by the parent before the fork: valid in the child */
  exit(0);
}

int main(void) {
  pthread_t busy[BUSY_THREADS];
  for (uintptr_t i = 0; i < BUSY_THREADS; ++i) {
    TT_CHECK(pthread_create(&busy[i], NULL, busy_allocator, (void*)i) == 0);
  }
  for (int f = 0; f < FORKS; ++f) {
    char* inherited = strdup("from the parent");
    TT_CHECK(inherited != NULL);
    pid_t child = fork();
    TT_CHECK(child >= 0);
    if (child == 0) child_work(inherited);
    free(inherited);
    int status = 0;
    if (!tt_wait_with_deadline(child, &status, CHILD_DEADLINE_MS, 5)) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      TT_FAIL("fork %d: child %d still running after %d ms (deadlocked after fork?)", f, (int)child,
              CHILD_DEADLINE_MS);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      TT_FAIL("fork %d: child %d ended with wait status 0x%x", f, (int)child, status);
    }
  }
  atomic_store(&stop_busy, 1);
  for (int i = 0; i < BUSY_THREADS; ++i) TT_CHECK(pthread_join(busy[i], NULL) == 0);
  return 0;
}
