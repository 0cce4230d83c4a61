/* A multi-threaded program forks; parent and child both exit with the leak check on. The
 * child must not report what the parent's other threads hold (their stacks do not exist
 * in the child), nor its own reachable blocks; the parent neither. */
// LEAK-MODES: debug
// LEAK-EXPECT: none
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leak_test.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_changed = PTHREAD_COND_INITIALIZER;
static int g_step;
void* g_shared;

static void* holder(void* argument) {
  (void)argument;
  void* volatile mine = malloc(500); /* only on this thread's stack */
  pthread_mutex_lock(&g_lock);
  g_step = 1;
  pthread_cond_broadcast(&g_changed);
  while (g_step < 2) pthread_cond_wait(&g_changed, &g_lock);
  pthread_mutex_unlock(&g_lock);
  free(mine);
  return NULL;
}

int main(void) {
  g_shared = malloc(32);
  pthread_t thread;
  pthread_create(&thread, NULL, holder, NULL);
  pthread_mutex_lock(&g_lock);
  while (g_step < 1) pthread_cond_wait(&g_changed, &g_lock);
  pthread_mutex_unlock(&g_lock);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    void** child_block = malloc(64); /* reachable from a global at exit, and so is the */
    child_block[0] = g_shared;       /* block the parent made before the fork */
    g_shared = child_block;
    exit(0); /* the at-exit check runs in the child */
  }
  int status = 0;
  waitpid(child, &status, 0);
  LT_EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  pthread_mutex_lock(&g_lock);
  g_step = 2;
  pthread_cond_broadcast(&g_changed);
  pthread_mutex_unlock(&g_lock);
  pthread_join(thread, NULL);
  free(g_shared);
  return lt_finish();
}
