// Clean: producer threads allocate messages and hand them over a queue to consumer
// threads, which verify and free them (every block is freed by a thread other than the
// one that allocated it).
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <pthread.h>
#include <string.h>

#include "tally_test.h"

#define PRODUCERS 3
#define CONSUMERS 3
#define MESSAGES_PER_PRODUCER 30000
#define QUEUE_CAPACITY 512

struct message {
  unsigned producer;
  unsigned serial;
  size_t length;
  unsigned char body[];
};

static struct message* queue[QUEUE_CAPACITY];
static size_t queue_head, queue_count;
static unsigned producers_left = PRODUCERS;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t queue_not_full = PTHREAD_COND_INITIALIZER;

static void push(struct message* message) {
  pthread_mutex_lock(&queue_lock);
  while (queue_count == QUEUE_CAPACITY) pthread_cond_wait(&queue_not_full, &queue_lock);
  queue[(queue_head + queue_count++) % QUEUE_CAPACITY] = message;
  pthread_cond_signal(&queue_not_empty);
  pthread_mutex_unlock(&queue_lock);
}

static struct message* pop(void) {
  pthread_mutex_lock(&queue_lock);
  while (queue_count == 0 && producers_left > 0) {
    pthread_cond_wait(&queue_not_empty, &queue_lock);
  }
  struct message* message = NULL;
  if (queue_count > 0) {
    message = queue[queue_head];
    queue_head = (queue_head + 1) % QUEUE_CAPACITY;
    --queue_count;
    pthread_cond_signal(&queue_not_full);
  }
  pthread_mutex_unlock(&queue_lock);
  return message;
}

static TT_NOINLINE void* produce(void* argument) {
  unsigned producer = (unsigned)(uintptr_t)argument;
  for (unsigned serial = 0; serial < MESSAGES_PER_PRODUCER; ++serial) {
    size_t length = (serial * 29u + producer * 7u) % 700;
    if (serial % 1000 == 0) length = 200000; /* the odd large message */
    struct message* message = (struct message*)malloc(sizeof(struct message) + length);
    TT_CHECK(message != NULL);
    message->producer = producer;
    message->serial = serial;
    message->length = length;
    tt_fill(message->body, length, producer * 100003u + serial);
    push(message);
  }
  pthread_mutex_lock(&queue_lock);
  --producers_left;
  pthread_cond_broadcast(&queue_not_empty);
  pthread_mutex_unlock(&queue_lock);
  return NULL;
}

static TT_NOINLINE void* consume(void* argument) {
  unsigned long* consumed = (unsigned long*)argument;
  struct message* message;
  while ((message = pop()) != NULL) {
    TT_CHECK(
        tt_verify(message->body, message->length, message->producer * 100003u + message->serial));
    free(message);
    ++*consumed;
  }
  return NULL;
}

int main(void) {
  pthread_t producers[PRODUCERS], consumers[CONSUMERS];
  unsigned long consumed[CONSUMERS] = {0};
  for (uintptr_t i = 0; i < CONSUMERS; ++i) {
    TT_CHECK(pthread_create(&consumers[i], NULL, consume, &consumed[i]) == 0);
  }
  for (uintptr_t i = 0; i < PRODUCERS; ++i) {
    TT_CHECK(pthread_create(&producers[i], NULL, produce, (void*)(i + 1)) == 0);
  }
  for (int i = 0; i < PRODUCERS; ++i) TT_CHECK(pthread_join(producers[i], NULL) == 0);
  unsigned long total = 0;
  for (int i = 0; i < CONSUMERS; ++i) {
    TT_CHECK(pthread_join(consumers[i], NULL) == 0);
    total += consumed[i];
  }
  TT_CHECK(total == (unsigned long)PRODUCERS * MESSAGES_PER_PRODUCER);
  return 0;
}
