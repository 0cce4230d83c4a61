// The leak check's choice of marking threads: a small heap is marked by the calling thread
// alone, a big one by one thread per kBytesPerMarkWorker, never by more threads than the
// process may run on; a count asked for (mark_threads) is taken as it is.
#include "mark/leak_check.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

TEST(LeakCheck, ASmallHeapIsMarkedByTheCallingThreadAlone) {
  EXPECT_EQ(leak_check_worker_count(0, 0, 64), 1);
  EXPECT_EQ(leak_check_worker_count(0, kBytesPerMarkWorker - 1, 64), 1);
}

TEST(LeakCheck, ABigHeapGetsAThreadPerShareUpToTheProcessors) {
  EXPECT_EQ(leak_check_worker_count(0, kBytesPerMarkWorker, 64), 2);
  EXPECT_EQ(leak_check_worker_count(0, 10 * kBytesPerMarkWorker + 1, 64), 11);
  EXPECT_EQ(leak_check_worker_count(0, 1000 * kBytesPerMarkWorker, 64), 64);
  EXPECT_EQ(leak_check_worker_count(0, 1000 * kBytesPerMarkWorker, 2), 2);
  EXPECT_EQ(leak_check_worker_count(0, 1000 * kBytesPerMarkWorker, 0), 1);
}

TEST(LeakCheck, ACountAskedForIsKept) {
  EXPECT_EQ(leak_check_worker_count(3, 0, 2), 3);
  EXPECT_EQ(leak_check_worker_count(1, 1000 * kBytesPerMarkWorker, 64), 1);
}

}  // namespace
}  // namespace tally
