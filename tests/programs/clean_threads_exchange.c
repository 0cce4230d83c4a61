// Clean: four threads in a ring, each allocating messages and passing them to the next
// thread, which verifies and frees them: every block is freed by another thread than the
// one that allocated it, while all threads allocate and free concurrently. Checks that
// the cross-thread free paths (and, in safe/debug mode, the quarantine and guard pages)
// never report or corrupt a live block.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 180
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "tally_test.h"

#define THREADS 4
#define MESSAGES 20000
#define SLOTS 256

struct message {
  unsigned from;
  unsigned sequence;
  size_t size;
  unsigned char payload[];
};

struct mailbox {
  struct message* _Atomic slots[SLOTS];
};

static struct mailbox mailboxes[THREADS];

static TT_NOINLINE struct message* make_message(unsigned from, unsigned sequence) {
  size_t size = 8 + (size_t)(sequence * 131u + from * 17u) % 2000;
  struct message* message = (struct message*)malloc(sizeof(struct message) + size);
  TT_CHECK(message != NULL);
  message->from = from;
  message->sequence = sequence;
  message->size = size;
  tt_fill(message->payload, size, sequence + from);
  return message;
}

static TT_NOINLINE void consume_message(struct message* message) {
  if (!tt_verify(message->payload, message->size, message->sequence + message->from))
    TT_FAIL("message %u from thread %u was corrupted", message->sequence, message->from);
  free(message);
}

static TT_NOINLINE void* ring_member(void* argument) {
  unsigned self = (unsigned)(uintptr_t)argument;
  struct mailbox* out = &mailboxes[(self + 1) % THREADS];
  struct mailbox* in = &mailboxes[self];
  unsigned sent = 0, received = 0;
  struct message* unsent = NULL;
  while (sent < MESSAGES || received < MESSAGES) {
    int progress = 0;
    if (sent < MESSAGES) {
      if (unsent == NULL) unsent = make_message(self, sent);
      struct message* expected = NULL;
      if (atomic_compare_exchange_strong(&out->slots[sent % SLOTS], &expected, unsent)) {
        unsent = NULL;
        ++sent;
        progress = 1;
      }
    }
    struct message* incoming = atomic_exchange(&in->slots[received % SLOTS], NULL);
    if (incoming != NULL) {
      TT_CHECK(incoming->sequence == received);
      consume_message(incoming);
      ++received;
      progress = 1;
    }
    if (!progress) sched_yield();
  }
  return NULL;
}

int main(void) {
  pthread_t threads[THREADS];
  for (unsigned i = 0; i < THREADS; ++i)
    TT_CHECK(pthread_create(&threads[i], NULL, ring_member, (void*)(uintptr_t)i) == 0);
  for (unsigned i = 0; i < THREADS; ++i) TT_CHECK(pthread_join(threads[i], NULL) == 0);
  return 0;
}
