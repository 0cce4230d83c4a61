// Use after free, write, past the first 4 KiB of a freed block: a job record of 70000
// bytes (its input, a status byte at offset 10000, its output) is finished and freed, and
// a late completion handler then sets the status byte. debug mode puts a block of this
// size (under guard_max_size) on guard pages, and its pages are inaccessible once freed:
// the write faults. safe mode poisons (and verifies) only the first 4 KiB of a freed
// block: the write lands past them and goes unseen, unless the block was a sampled
// guarded one. fast mode writes into the freed block unseen.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: WRITE
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 10000 bytes inside of 70000-byte region
// TALLY-EXPECT-ACCESS-FRAME: mark_done
// TALLY-EXPECT-FREE-FRAME: finish_job
// TALLY-EXPECT-ALLOC-FRAME: start_job
#include <string.h>

#include "tally_test.h"

#define JOB_BYTES 70000
#define INPUT_BYTES 10000

struct job {
  char input[INPUT_BYTES];
  char done;
  char output[JOB_BYTES - INPUT_BYTES - 1];
};

static TT_NOINLINE struct job* start_job(void) {
  struct job* job = (struct job*)malloc(sizeof(struct job));
  TT_CHECK(job != NULL);
  memset(job, 0, sizeof(struct job));
  memcpy(job->input, "render --frames 1-240 --scene atrium", 37);
  return job;
}

static TT_NOINLINE int finish_job(struct job* job) {
  int checksum = job->input[0] + job->input[1];
  free(job);
  return checksum;
}

static TT_NOINLINE void mark_done(struct job* job) {
  tt_note_bad_access(&job->done, 1, job, sizeof(struct job));
  *(volatile char*)&job->done = 1; /* the job was finished (freed) already */
  tt_after_bad_access();
}

int main(void) {
  TT_PRECONDITION(sizeof(struct job) == JOB_BYTES);
  struct job* job = start_job();
  tt_consume((unsigned long)finish_job(job));
  mark_done(job);
  return 0;
}
