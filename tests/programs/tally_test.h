/* Helpers shared by the bad-free corpus (tests/programs/). C and C++.
 *
 * A program tells the runner (run_program_test.py) what it is about to do by writing
 * "TALLY-TEST: ..." lines to stderr, each with a single write(2) so the line is whole,
 * never allocates, and lands in order with the allocator's own report:
 *
 *   TALLY-TEST: bad-free ptr=0x... block=0x... size=N
 *       written just before the bad free. ptr is the exact pointer passed to free/delete/
 *       realloc; block is the start of the live block that ptr points into (ptr itself for
 *       a double free) and size what was requested for it; block=0x0 size=0 when ptr is
 *       not inside any live block (stack, global, garbage, mmap, a freed block).
 *   TALLY-TEST: survived
 *       written after the bad free returned: must not appear when the allocator halts.
 *   TALLY-TEST: report-pid=N
 *       the report is expected from process N (a forked child), not from the runner's child.
 *   TALLY-TEST: FAIL: ...            (then exit status 2) the program saw a wrong result.
 *   TALLY-TEST: PRECONDITION: ...    (then exit status 3) the test could not set up its
 *       misuse (e.g. realloc did not move the block); a test bug or a surprising allocator,
 *       never a pass.
 */
#ifndef TALLY_TESTS_PROGRAMS_TALLY_TEST_H
#define TALLY_TESTS_PROGRAMS_TALLY_TEST_H

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TT_NOINLINE __attribute__((noinline))

static inline void tt_say(const char* format, ...) __attribute__((format(printf, 1, 2)));
static inline void tt_say(const char* format, ...) {
  char line[512];
  va_list arguments;
  va_start(arguments, format);
  int length = vsnprintf(line, sizeof(line) - 1, format, arguments);
  va_end(arguments);
  if (length < 0) return;
  if ((size_t)length > sizeof(line) - 2) length = (int)(sizeof(line) - 2);
  line[length++] = '\n';
  ssize_t written = write(2, line, (size_t)length);
  (void)written;
}

/* Announce the bad free that follows. block/size describe the live block ptr points into
 * (NULL/0 if none). */
static inline void tt_note_bad_free(const void* ptr, const void* block, size_t size) {
  tt_say("TALLY-TEST: bad-free ptr=0x%" PRIxPTR " block=0x%" PRIxPTR " size=%zu", (uintptr_t)ptr,
         (uintptr_t)block, size);
}

static inline void tt_survived(void) {
  tt_say("TALLY-TEST: survived");
}

static inline void tt_note_report_pid(long pid) {
  tt_say("TALLY-TEST: report-pid=%ld", pid);
}

#define TT_FAIL(...)                                       \
  do {                                                     \
    tt_say("TALLY-TEST: FAIL: %s:%d", __FILE__, __LINE__); \
    tt_say("TALLY-TEST: FAIL: " __VA_ARGS__);              \
    exit(2);                                               \
  } while (0)

#define TT_CHECK(condition)                                    \
  do {                                                         \
    if (!(condition)) TT_FAIL("check failed: %s", #condition); \
  } while (0)

#define TT_PRECONDITION(condition)                                                   \
  do {                                                                               \
    if (!(condition)) {                                                              \
      tt_say("TALLY-TEST: PRECONDITION: %s:%d: %s", __FILE__, __LINE__, #condition); \
      exit(3);                                                                       \
    }                                                                                \
  } while (0)

/* Fill / verify a block with a pattern derived from a seed, so that two blocks handed out
 * twice (a corrupted free list) or overwritten metadata show up as a FAIL. */
static inline void tt_fill(void* block, size_t size, unsigned seed) {
  unsigned char* bytes = (unsigned char*)block;
  for (size_t i = 0; i < size; ++i) bytes[i] = (unsigned char)(seed * 131u + i * 7u + 1u);
}

static inline int tt_verify(const void* block, size_t size, unsigned seed) {
  const unsigned char* bytes = (const unsigned char*)block;
  for (size_t i = 0; i < size; ++i) {
    if (bytes[i] != (unsigned char)(seed * 131u + i * 7u + 1u)) return 0;
  }
  return 1;
}

#endif /* TALLY_TESTS_PROGRAMS_TALLY_TEST_H */
