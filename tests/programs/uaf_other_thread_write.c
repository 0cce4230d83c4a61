// Use after free, write, in another thread than the one that freed: the main thread queues a
// job for a worker, then cancels it (frees it) before the worker gets to it; the worker
// still stores its result into the job. The access happens in T1, the free in T0. safe mode
// finds the damage later (at exit, in T0). In safe mode sampling is off: the test is of the
// poison check (no sampled guard page may catch the write first).
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-THREAD[mode=debug,asan]: T1
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: run_job
// TALLY-EXPECT-FREE-FRAME: cancel_job
// TALLY-EXPECT-ALLOC-FRAME: queue_job
// TALLY-EXPECT-FREE-THREAD: T0
// TALLY-EXPECT-ALLOC-THREAD: T0
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

#include "tally_test.h"

struct job {
  int id;
  int result;
  char input[56];
};

static struct job* volatile pending_job;
static sem_t job_ready;

static TT_NOINLINE struct job* queue_job(int id, const char* input) {
  struct job* job = (struct job*)malloc(sizeof(struct job));
  TT_CHECK(job != NULL);
  job->id = id;
  job->result = -1;
  strncpy(job->input, input, sizeof(job->input) - 1);
  job->input[sizeof(job->input) - 1] = '\0';
  pending_job = job;
  return job;
}

static TT_NOINLINE void cancel_job(struct job* job) {
  free(job); /* but the worker already has it */
}

static TT_NOINLINE void* run_job(void* argument) {
  (void)argument;
  sem_wait(&job_ready);
  struct job* job = pending_job;
  tt_note_bad_access(&job->result, sizeof(job->result), job, sizeof(struct job));
  job->result = 200;
  tt_after_bad_access();
  return NULL;
}

int main(void) {
  TT_CHECK(sem_init(&job_ready, 0, 0) == 0);
  pthread_t worker;
  TT_CHECK(pthread_create(&worker, NULL, run_job, NULL) == 0);
  struct job* job = queue_job(17, "resize /photos/cat.jpg 640x480");
  cancel_job(job);
  sem_post(&job_ready);
  TT_CHECK(pthread_join(worker, NULL) == 0);
  return 0;
}
