/* A leak check of a small heap starts no thread: the calling thread marks it alone, since
 * the automatic count (mark_threads=0) gives a helper thread per 64 MiB of heap. It used to
 * start one per processor for a heap of any size, at every exit of a short command in debug
 * mode. Then a check of a heap past 64 MiB starts one helper (on a machine with at least two
 * processors), so the check above could have failed. The blocks stay reachable throughout. */
// LEAK-MODES: fast safe
// LEAK-OPTIONS: leaks=1
// LEAK-EXPECT: none
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>

#include "leak_test.h"

enum { kBigBlocks = 80, kBigBlockSize = 1 << 20 };
void* g_small;
void* g_big[kBigBlocks];

static int thread_count(void) {
  DIR* tasks = opendir("/proc/self/task");
  if (!tasks) return -1;
  int count = 0;
  for (struct dirent* entry; (entry = readdir(tasks)) != NULL;)
    if (entry->d_name[0] != '.') ++count;
  closedir(tasks);
  return count;
}

static int processors(void) {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

int main(void) {
  g_small = malloc(100);
  int before = thread_count();
  LT_EXPECT(before == 1);
  LT_EXPECT(lt_check_leaks() == 0);
  LT_EXPECT(thread_count() == before);
  /* Past 64 MiB of committed heap: the next check has a helper, where there is room for one. */
  for (int i = 0; i < kBigBlocks; ++i) g_big[i] = calloc(1, kBigBlockSize);
  LT_EXPECT(lt_check_leaks() == 0);
  if (processors() >= 2) LT_EXPECT(thread_count() == before + 1);
  return lt_finish();
}
