// Double free across threads: a worker takes ownership of a job and frees it when done;
// the main thread then frees the same job again. The report comes from the main thread.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: finish_job
#include <pthread.h>
#include <string.h>

#include "tally_test.h"

struct job {
  int id;
  char payload[100];
};

static TT_NOINLINE void* run_job(void* argument) {
  struct job* job = (struct job*)argument;
  TT_CHECK(job->payload[0] == 'p');
  free(job); /* the worker owns the job once it runs it */
  return NULL;
}

static TT_NOINLINE void finish_job(struct job* job) {
  free(job);
}

int main(void) {
  struct job* job = (struct job*)malloc(sizeof(struct job));
  TT_CHECK(job != NULL);
  job->id = 7;
  memset(job->payload, 'p', sizeof(job->payload));
  pthread_t worker;
  TT_CHECK(pthread_create(&worker, NULL, run_job, job) == 0);
  TT_CHECK(pthread_join(worker, NULL) == 0);
  tt_note_bad_free(job, job, sizeof(struct job));
  finish_job(job);
  tt_survived();
  return 0;
}
