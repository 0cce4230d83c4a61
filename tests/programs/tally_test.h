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
 *   TALLY-TEST: bad-access addr=0x... len=N block=0x... size=M
 *       written just before a bad access (use after free, overflow, underflow): the bytes
 *       [addr, addr+len) about to be read or written wrongly, and the block they concern:
 *       its start and its requested size. The report's address must lie in that range
 *       and its region line must name that block (a write caught later, when the block
 *       leaves the quarantine or at free by its canary, names the first damaged byte,
 *       which is inside the range too). A program may announce several; one is enough.
 *   TALLY-TEST: after-bad-access
 *       written right after the bad access: the program went on, so the access itself was
 *       not caught, and a report that comes later (poison, canary) must not claim it was
 *       (no "READ/WRITE of size" line).
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

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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

/* Announce the bad access that follows: [addr, addr+len) of the block [block, block+size)
 * (size: the requested size), for use after free, overflow and underflow programs. */
static inline void tt_note_bad_access_at(uintptr_t addr, size_t len, uintptr_t block, size_t size) {
  tt_say("TALLY-TEST: bad-access addr=0x%" PRIxPTR " len=%zu block=0x%" PRIxPTR " size=%zu", addr,
         len, block, size);
}
/* (A macro: the pointers go as integers, so the compiler never takes the note for a read
 * of the block, e.g. of a block not yet written.) */
#define tt_note_bad_access(addr, len, block, size) \
  tt_note_bad_access_at((uintptr_t)(addr), (len), (uintptr_t)(block), (size))

/* Say that the bad access just announced has happened and the program goes on. */
static inline void tt_after_bad_access(void) {
  tt_say("TALLY-TEST: after-bad-access");
}

/* Keep a value read from memory alive, so that a read is never optimized away. */
static inline void tt_consume(unsigned long value) {
  __asm__ volatile("" : : "r"(value) : "memory");
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

/* Waits for a forked child, polling every `poll_ms`, for at most `deadline_ms`: 1 when it
 * ended (its wait status in *status), 0 when it is still running (stuck, for a fork test:
 * on an allocator lock held by a thread that does not exist in the child). */
static inline int tt_wait_with_deadline(pid_t child, int* status, int deadline_ms, int poll_ms) {
  for (int waited_ms = 0; waited_ms < deadline_ms; waited_ms += poll_ms) {
    pid_t done = waitpid(child, status, WNOHANG);
    if (done == child) return 1;
    TT_CHECK(done == 0);
    struct timespec pause = {0, (long)poll_ms * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return 0;
}

/* Resident set size of the process now and at its peak (VmRSS, VmHWM), in KiB; 0 when
 * /proc is not readable. Reads /proc with read(2): no stdio, no allocation. */
static inline long tt_status_field_kib(const char* text, const char* field) {
  size_t field_length = strlen(field);
  for (const char* line = text; *line;) {
    if (strncmp(line, field, field_length) == 0) return strtol(line + field_length, NULL, 10);
    const char* newline = strchr(line, '\n');
    if (newline == NULL) break;
    line = newline + 1;
  }
  return 0;
}

static inline void tt_rss_kib(long* current, long* peak) {
  char text[4096];
  *current = 0;
  *peak = 0;
  int fd = open("/proc/self/status", O_RDONLY);
  if (fd < 0) return;
  ssize_t length = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (length <= 0) return;
  text[length] = 0;
  *current = tt_status_field_kib(text, "VmRSS:");
  *peak = tt_status_field_kib(text, "VmHWM:");
}

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
