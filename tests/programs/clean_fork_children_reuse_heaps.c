// Clean: fork again and again while other threads are inside malloc and free, and have
// each child start threads that allocate and free several MiB across every size class.
// In the child only the forking thread lives on; the heaps of the others were frozen
// wherever their threads stood, possibly halfway through an update of their books. The
// child's new threads used to adopt those heaps and met the half-done updates: blocks
// freed by a harvest that had not yet cleared its remote bits were reported as freed by
// two threads at once, and blocks released from the quarantine on pages whose count had
// not caught up were reported as double frees (clean_fork_threads met it once in a few
// hundred runs). Every free here is valid: any report fails the test.
// The forks stop after FORK_SECONDS if not all done (a child faults in a few MiB of fresh
// pages, slow on a loaded machine). The heaps are mode-blind: debug mode adds nothing.
// TALLY-MODES: fast safe
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// ASAN-KNOWN-ISSUE: ASan (LLVM 14) is not fork-safe: the child deadlocks in ASan's malloc
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "tally_test.h"

#define BUSY_THREADS 3
#define FORKS 150
#define FORK_SECONDS 10
#define CHILD_THREADS 2
#define CHILD_BLOCKS 1500
#define CHILD_ROUNDS 3
#define CHILD_DEADLINE_MS 10000
#define HANDOFF_SLOTS 64

static atomic_int stop_busy;
// Blocks one busy thread leaves for another to free: those frees are remote, and their
// owners collect them in harvests, which a fork can interrupt.
static _Atomic(void*) handoff[HANDOFF_SLOTS];

static size_t size_of_round(unsigned round, unsigned seed) {
  return 8 + (round * 97u + seed * 31u) % 3000;
}

static TT_NOINLINE void* busy_allocator(void* argument) {
  unsigned seed = (unsigned)(uintptr_t)argument;
  void* kept[128] = {0};
  for (unsigned round = 0; !atomic_load(&stop_busy); ++round) {
    unsigned slot = (round * 13u + seed) % 128;
    free(kept[slot]);
    kept[slot] = malloc(size_of_round(round, seed));
    TT_CHECK(kept[slot] != NULL);
    memset(kept[slot], (int)round, 8);
    void* mine = malloc(size_of_round(round + 7, seed));
    TT_CHECK(mine != NULL);
    void* theirs = atomic_exchange(&handoff[(round + seed * 17u) % HANDOFF_SLOTS], mine);
    free(theirs);
  }
  for (int i = 0; i < 128; ++i) free(kept[i]);
  return NULL;
}

static TT_NOINLINE void* child_churn(void* argument) {
  unsigned seed = (unsigned)(uintptr_t)argument;
  static _Thread_local void* blocks[CHILD_BLOCKS];
  for (unsigned round = 0; round < CHILD_ROUNDS; ++round) {
    for (unsigned i = 0; i < CHILD_BLOCKS; ++i) {
      blocks[i] = malloc(size_of_round(i + round * CHILD_BLOCKS, seed));
      TT_CHECK(blocks[i] != NULL);
      memset(blocks[i], 1, 8);
    }
    for (unsigned i = 0; i < CHILD_BLOCKS; ++i) free(blocks[i]);
  }
  return NULL;
}

static TT_NOINLINE void child_work(void) {
  pthread_t threads[CHILD_THREADS];
  for (uintptr_t i = 0; i < CHILD_THREADS; ++i)
    TT_CHECK(pthread_create(&threads[i], NULL, child_churn, (void*)(i + 1)) == 0);
  child_churn(NULL);
  for (int i = 0; i < CHILD_THREADS; ++i) TT_CHECK(pthread_join(threads[i], NULL) == 0);
  exit(0);
}

int main(void) {
  pthread_t busy[BUSY_THREADS];
  for (uintptr_t i = 0; i < BUSY_THREADS; ++i)
    TT_CHECK(pthread_create(&busy[i], NULL, busy_allocator, (void*)i) == 0);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int f = 0; f < FORKS; ++f) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= FORK_SECONDS) break;
    pid_t child = fork();
    TT_CHECK(child >= 0);
    if (child == 0) child_work();
    int status = 0;
    if (!tt_wait_with_deadline(child, &status, CHILD_DEADLINE_MS, 1)) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      TT_FAIL("fork %d: child %d still running after %d ms", f, (int)child, CHILD_DEADLINE_MS);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      TT_FAIL("fork %d: child %d ended with wait status 0x%x", f, (int)child, status);
  }
  atomic_store(&stop_busy, 1);
  for (int i = 0; i < BUSY_THREADS; ++i) TT_CHECK(pthread_join(busy[i], NULL) == 0);
  for (int i = 0; i < HANDOFF_SLOTS; ++i) free(atomic_load(&handoff[i]));
  return 0;
}
