/* stream_read: the machine's memory read bandwidth, the speed limit of a linear scan.
 * THREADS threads each sum their share of a MEGABYTES buffer (touched first, so its pages
 * exist), several times; prints the best rate in GB/s (1e9 bytes per second).
 *
 * usage: stream_read [MEGABYTES=1024] [THREADS=2] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct share {
  const uint64_t* words;
  size_t count;
  uint64_t sum;
};

static void* read_share(void* argument) {
  struct share* share = argument;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 4 <= share->count; i += 4) {
    a += share->words[i];
    b += share->words[i + 1];
    c += share->words[i + 2];
    d += share->words[i + 3];
  }
  share->sum = a + b + c + d;
  return NULL;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  size_t megabytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  if (threads < 1 || threads > 64) threads = 2;
  size_t bytes = megabytes << 20, count = bytes / sizeof(uint64_t);
  uint64_t* words = malloc(bytes);
  if (!words) return 2;
  for (size_t i = 0; i < count; ++i) words[i] = i;
  double best = 0;
  uint64_t total = 0;
  for (int round = 0; round < 5; ++round) {
    pthread_t ids[64];
    struct share shares[64];
    double start = now();
    for (int t = 0; t < threads; ++t) {
      shares[t].words = words + count / threads * t;
      shares[t].count = count / threads;
      pthread_create(&ids[t], NULL, read_share, &shares[t]);
    }
    for (int t = 0; t < threads; ++t) {
      pthread_join(ids[t], NULL);
      total += shares[t].sum;
    }
    double rate = bytes / (now() - start) / 1e9;
    if (rate > best) best = rate;
  }
  printf("stream_read: %zu MiB, %d thread(s): %.2f GB/s (checksum %llx)\n", megabytes, threads,
         best, (unsigned long long)total);
  free(words);
  return 0;
}
