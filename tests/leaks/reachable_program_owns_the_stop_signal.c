/* The program has a handler of its own for SIGPWR, the signal tally stops threads with
 * (Boehm GC and Mono use it so): after each leak check, on demand and with a second thread
 * to stop, the program's handler must be the one that runs. tally's handler used to stay
 * installed for good after the first check, and the program's signals went nowhere. */
// LEAK-MODES: fast debug
// LEAK-EXPECT: none
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "leak_test.h"

static volatile sig_atomic_t g_handled;
static atomic_int g_step;

static void program_handler(int signal_number) {
  (void)signal_number;
  ++g_handled;
}

static void* waiting_thread(void* argument) {
  (void)argument;
  atomic_store(&g_step, 1);
  while (atomic_load(&g_step) != 2) sched_yield();
  return NULL;
}

int main(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = program_handler;
  sigemptyset(&action.sa_mask);
  LT_EXPECT(sigaction(SIGPWR, &action, NULL) == 0);

  pthread_t thread;
  pthread_create(&thread, NULL, waiting_thread, NULL);
  while (atomic_load(&g_step) != 1) sched_yield();
  for (int round = 1; round <= 2; ++round) {
    LT_EXPECT(lt_check_leaks() == 0);
    raise(SIGPWR);
    LT_EXPECT(g_handled == round);
    struct sigaction now;
    LT_EXPECT(sigaction(SIGPWR, NULL, &now) == 0);
    LT_EXPECT(!(now.sa_flags & SA_SIGINFO) && now.sa_handler == program_handler);
  }
  atomic_store(&g_step, 2);
  pthread_join(thread, NULL);
  return lt_finish();
}
