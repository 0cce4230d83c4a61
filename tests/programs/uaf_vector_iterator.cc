// Use after free, write, through a std::vector iterator invalidated by push_back: the
// scheduler takes an iterator to the first queued job, enqueues a follow-up job (the vector
// is full, so push_back moves the elements to a new array and frees the old one), then marks
// the first job running through the stale iterator. In safe mode sampling is off: the test
// is of the poison check (no sampled guard page may catch the write first).
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: start_first_job
// TALLY-EXPECT-FREE-FRAME: start_first_job
// TALLY-EXPECT-ALLOC-FRAME: make_queue
#include <vector>

#include "tally_test.h"

namespace {

enum class State : int { kQueued = 1, kRunning = 2 };

struct Job {
  int id;
  State state;
  double priority;
};

TT_NOINLINE std::vector<Job> make_queue() {
  std::vector<Job> jobs;
  jobs.reserve(4);
  for (int id = 1; id <= 4; ++id) jobs.push_back(Job{id, State::kQueued, 1.0 / id});
  return jobs;
}

TT_NOINLINE void start_first_job(std::vector<Job>& jobs) {
  std::vector<Job>::iterator first = jobs.begin();
  const Job* old_storage = jobs.data();
  size_t old_bytes = jobs.capacity() * sizeof(Job);
  jobs.push_back(Job{first->id + 100, State::kQueued, 0.5});  // full: reallocates
  TT_PRECONDITION(jobs.data() != old_storage);
  tt_note_bad_access(&first->state, sizeof(first->state), old_storage, old_bytes);
  first->state = State::kRunning;  // the iterator points into the freed array
  tt_after_bad_access();
}

}  // namespace

int main() {
  std::vector<Job> jobs = make_queue();
  TT_PRECONDITION(jobs.size() == jobs.capacity());
  start_first_job(jobs);
  return jobs.size() == 5 ? 0 : 2;
}
