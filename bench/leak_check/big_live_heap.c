/* big_live_heap: a live heap of MEGABYTES of small linked objects reachable from a global,
 * plus one deliberate leak, then exit, where the leak check runs. The objects are 48-byte
 * nodes in 4096 singly linked lists (an array of heads in a global); each node carries a
 * payload of numbers that never look like pointers. Built in C so that the same source
 * runs under tally (LD_PRELOAD), LeakSanitizer (clang -fsanitize=leak) and memcheck.
 *
 * usage: big_live_heap MEGABYTES [LAYOUT]
 * LAYOUT "grouped" (the default) allocates each list's nodes one after the other, as a
 * program that builds one structure at a time does; "interleaved" allocates node i into
 * list i % 4096, so consecutive blocks belong to different lists and every step of a list
 * jumps far (the hardest case for a marker's caches).
 * prints "built N nodes (M MiB) in S s" and "main returned at T" (CLOCK_MONOTONIC seconds)
 * to stderr; the leak (a 4000-byte block and a
 * 3-node list hanging off it) is what every checker must report. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LISTS 4096

struct node {
  struct node* next;
  uint64_t payload[5];
};

struct node* g_heads[LISTS];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* In a thread of its own, which exits: no stale copy of the pointers stays on a stack or
 * in a register that a conservative checker would take for a live one. */
static void* leak_something(void* argument) {
  struct node** lost = malloc(4000);
  memset(lost, 0, 4000);
  for (int i = 0; i < 3; ++i) {
    struct node* n = malloc(sizeof *n);
    n->next = lost[0];
    lost[0] = n;
  }
  __asm__ volatile("" : : "r"(lost) : "memory"); /* the compiler may not drop it all */
  return argument;
}

int main(int argc, char** argv) {
  double megabytes = argc > 1 ? atof(argv[1]) : 100;
  int interleaved = argc > 2 && strcmp(argv[2], "interleaved") == 0;
  size_t count = (size_t)(megabytes * 1048576.0 / sizeof(struct node));
  size_t per_list = count / LISTS + 1;
  double start = now();
  for (size_t i = 0; i < count; ++i) {
    struct node* n = malloc(sizeof *n);
    if (!n) {
      fprintf(stderr, "out of memory after %zu nodes\n", i);
      return 2;
    }
    for (int k = 0; k < 5; ++k) n->payload[k] = (uint64_t)(i * 5 + k) * 2654435761u;
    size_t list = interleaved ? i % LISTS : i / per_list;
    n->next = g_heads[list];
    g_heads[list] = n;
  }
  pthread_t thread;
  pthread_create(&thread, NULL, leak_something, NULL);
  pthread_join(thread, NULL);
  fprintf(stderr, "built %zu nodes (%.0f MiB) in %.2f s\n", count, megabytes, now() - start);
  /* The leak check runs after main returns; the runner takes its cost from this moment to
   * the end of the process, so the noise of building the heap stays out of it. */
  fprintf(stderr, "main returned at %.6f\n", now());
  return 0;
}
