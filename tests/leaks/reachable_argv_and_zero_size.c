/* Two places a block may be held that the check once missed: argv, which lies above the
 * main thread's stack proper (ld stores blocks in argv[i]), and a 0-byte block, whose only
 * address is its start, at its guard page in debug mode (sed's regex compiler keeps
 * malloc(0) results). Neither is a leak; once both are dropped, the check finds both, so
 * the first check could have failed. */
// LEAK-MODES: debug
// LEAK-EXPECT: direct 25 1 make_argument
// LEAK-EXPECT: direct 0 1 make_empty_set
// LEAK-EXPECT-STATUS: 0
#include "leak_test.h"

static void* g_empty_set;

static LT_NOINLINE char* make_argument(void) {
  char* argument = malloc(25);
  memcpy(argument, "--library-path=/opt/lib", 24);
  argument[24] = '\0';
  return argument;
}

static LT_NOINLINE void* make_empty_set(void) {
  return malloc(0);
}

static LT_NOINLINE void replace_argument(char** argv) {
  argv[0] = make_argument();
}

int main(int argc, char** argv) {
  (void)argc;
  char* original = argv[0];
  replace_argument(argv);
  g_empty_set = make_empty_set();
  LT_EXPECT(g_empty_set != NULL);
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 0);
  uintptr_t hidden_argument = lt_hide(argv[0]);
  uintptr_t hidden_set = lt_hide(g_empty_set);
  argv[0] = original;
  g_empty_set = NULL;
  lt_scrub_stack();
  LT_EXPECT(lt_check_leaks() == 25);
  free(lt_unhide(hidden_argument));
  free(lt_unhide(hidden_set));
  return lt_finish();
}
