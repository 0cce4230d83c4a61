// Use after free, read, by a function's very first instruction: a leaf routine (written in
// assembly here, as optimized code often is) loads a field through a stale pointer before
// anything else. The fault's PC is that instruction itself, not a return address, so the
// access stack must name the routine; stepping back one byte, as for the return addresses
// of the frames above it, would land in the function laid out before it.
// ASan does not see loads made in assembly.
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT[mode=asan]: none
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: load_retry_count
// TALLY-EXPECT-FREE-FRAME: drop_request
// TALLY-EXPECT-ALLOC-FRAME: new_request
#include "tally_test.h"

struct request {
  unsigned long id;
  unsigned retry_count;
  unsigned flags;
};

static TT_NOINLINE struct request* new_request(unsigned long id) {
  struct request* request = (struct request*)malloc(sizeof(struct request));
  TT_CHECK(request != NULL);
  request->id = id;
  request->retry_count = 3;
  request->flags = 0;
  return request;
}

static TT_NOINLINE void drop_request(struct request* request) {
  free(request);
}

// The function laid out before load_retry_count: a wrong step back names this one.
TT_NOINLINE unsigned laid_out_before(unsigned value) {
  return value * 3 + 1;
}

// retry_count sits 8 bytes into the request; the load is the first instruction.
__attribute__((naked, noinline)) unsigned load_retry_count(const struct request* request
                                                           __attribute__((unused))) {
  __asm__ volatile(
      "movl 8(%rdi), %eax\n\t"
      "ret\n\t");
}

int main(void) {
  struct request* request = new_request(7);
  TT_CHECK(load_retry_count(request) == 3);
  tt_consume(laid_out_before(request->flags));
  drop_request(request);
  tt_note_bad_access(&request->retry_count, sizeof(request->retry_count), request,
                     sizeof(struct request));
  unsigned retries = load_retry_count(request);
  tt_after_bad_access();
  tt_consume(retries);
  return 0;
}
