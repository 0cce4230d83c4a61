// Use after free, read, in a program with SIGSEGV and SIGBUS handlers of its own, installed
// at start-up as redis, ruby and python's faulthandler do: a cache lookup reads an entry
// that an eviction freed. In debug mode the read faults on the freed block's page, and
// tally must report it with the three stacks. The program's handler used to replace
// tally's, and the fault went to it as an anonymous crash (exit 42 here). The program also
// reads its handler back, which must be its own.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-STATUS[mode=fast]: 0
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-STATUS[mode=safe]: 0|1
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: lookup_entry
// TALLY-EXPECT-FREE-FRAME: evict_entry
// TALLY-EXPECT-ALLOC-FRAME: insert_entry
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tally_test.h"

struct entry {
  unsigned long key;
  unsigned long value;
  char label[24];
};

static void crash_handler(int signal_number, siginfo_t* info, void* context) {
  (void)signal_number;
  (void)info;
  (void)context;
  static const char message[] = "program's crash handler ran\n";
  (void)!write(2, message, sizeof message - 1);
  _exit(42);
}

static TT_NOINLINE struct entry* insert_entry(unsigned long key, unsigned long value) {
  struct entry* entry = (struct entry*)malloc(sizeof(struct entry));
  TT_CHECK(entry != NULL);
  entry->key = key;
  entry->value = value;
  strcpy(entry->label, "cached");
  return entry;
}

static TT_NOINLINE void evict_entry(struct entry* entry) {
  free(entry); /* the index keeps its pointer */
}

static TT_NOINLINE unsigned long lookup_entry(const struct entry* entry) {
  tt_note_bad_access(&entry->value, sizeof(entry->value), entry, sizeof(struct entry));
  unsigned long value = entry->value;
  tt_after_bad_access();
  return value;
}

int main(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = crash_handler;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  TT_CHECK(sigaction(SIGSEGV, &action, NULL) == 0);
  TT_CHECK(sigaction(SIGBUS, &action, NULL) == 0);
  struct sigaction read_back;
  TT_CHECK(sigaction(SIGSEGV, NULL, &read_back) == 0);
  TT_CHECK((read_back.sa_flags & SA_SIGINFO) && read_back.sa_sigaction == crash_handler);

  struct entry* entry = insert_entry(7, 4242);
  TT_CHECK(entry->value == 4242);
  evict_entry(entry);
  tt_consume(lookup_entry(entry));
  return 0;
}
