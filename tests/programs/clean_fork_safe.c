// Clean: fork with live, freed (quarantined) and guarded blocks. The parent allocates,
// frees half, forks three children; each child verifies the parent's live blocks, frees
// some of them, allocates and frees its own, and exits normally (checks at exit, such as
// safe mode's quarantine check, must find nothing). The parent, meanwhile, goes on
// allocating and freeing, and finally frees everything.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 120
#include <string.h>
#include <sys/wait.h>

#include "tally_test.h"

#define BLOCKS 2000
#define CHILDREN 3

static unsigned char* blocks[BLOCKS];

static size_t block_size(int i) {
  return 16 + (size_t)(i * 53) % 5000;
}

static TT_NOINLINE void child_work(int child) {
  for (int i = 1; i < BLOCKS; i += 2) {
    if (!tt_verify(blocks[i], block_size(i), (unsigned)i)) TT_FAIL("child: block %d changed", i);
    if (i % 3 == child) free(blocks[i]);
  }
  for (int round = 0; round < 2000; ++round) {
    size_t size = 1 + (size_t)(round * 97) % 3000;
    unsigned char* own = (unsigned char*)malloc(size);
    TT_CHECK(own != NULL);
    tt_fill(own, size, (unsigned)round);
    TT_CHECK(tt_verify(own, size, (unsigned)round));
    free(own);
  }
  exit(0);
}

int main(void) {
  for (int i = 0; i < BLOCKS; ++i) {
    blocks[i] = (unsigned char*)malloc(block_size(i));
    TT_CHECK(blocks[i] != NULL);
    tt_fill(blocks[i], block_size(i), (unsigned)i);
  }
  for (int i = 0; i < BLOCKS; i += 2) free(blocks[i]); /* the even ones are freed */
  pid_t children[CHILDREN];
  for (int child = 0; child < CHILDREN; ++child) {
    children[child] = fork();
    TT_CHECK(children[child] >= 0);
    if (children[child] == 0) child_work(child);
    for (int round = 0; round < 500; ++round) {
      void* block = malloc(64 + (size_t)round);
      TT_CHECK(block != NULL);
      free(block);
    }
  }
  for (int child = 0; child < CHILDREN; ++child) {
    int status = 0;
    TT_CHECK(waitpid(children[child], &status, 0) == children[child]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      TT_FAIL("child %d ended with status 0x%x", child, status);
  }
  for (int i = 1; i < BLOCKS; i += 2) {
    if (!tt_verify(blocks[i], block_size(i), (unsigned)i)) TT_FAIL("parent: block %d changed", i);
    free(blocks[i]);
  }
  return 0;
}
