// Clean: the process exits while other threads are in the middle of malloc, realloc and
// free. Debug mode verifies the canaries of the live blocks at exit (and safe mode does
// here too, by option); a thread stopped inside the allocator may hold a block whose
// canary is not written yet, so a check that looked anyway would report an overflow that
// never happened (it did, in about half the runs, before the check learned to stand aside).
// Eight child processes each start three churning threads and exit under them.
// TALLY-OPTIONS[mode=safe]: canaries_at_exit=1
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tally_test.h"

#define CHILDREN 8
#define THREADS 3
#define SLOTS 64

static void* churn(void* arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  char* kept[SLOTS] = {0};
  for (;;) {
    seed = seed * 1103515245u + 12345u;
    unsigned pick = seed >> 16;
    size_t size = 1 + pick % 700; /* odd and even sizes: every block has slack */
    unsigned slot = pick % SLOTS;
    if (kept[slot] && (pick & 1)) {
      char* grown = (char*)realloc(kept[slot], size);
      TT_CHECK(grown != NULL);
      kept[slot] = grown;
    } else {
      free(kept[slot]);
      kept[slot] = (char*)malloc(size);
      TT_CHECK(kept[slot] != NULL);
    }
    memset(kept[slot], (int)pick, size);
  }
  return NULL;
}

static TT_NOINLINE void child_exits_under_its_threads(int child) {
  for (int t = 0; t < THREADS; ++t) {
    pthread_t thread;
    void* seed = (void*)(uintptr_t)(child * THREADS + t + 1);
    TT_CHECK(pthread_create(&thread, NULL, churn, seed) == 0);
    TT_CHECK(pthread_detach(thread) == 0);
  }
  usleep(5000 + 2000 * (useconds_t)child);
  exit(0); /* the threads are still allocating */
}

int main(void) {
  for (int child = 0; child < CHILDREN; ++child) {
    pid_t pid = fork();
    TT_CHECK(pid >= 0);
    if (pid == 0) child_exits_under_its_threads(child);
    int status = 0;
    TT_CHECK(waitpid(pid, &status, 0) == pid);
    TT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  tt_say("%d children exited under their threads", CHILDREN);
  return 0;
}
