// Double free of a memalign'd block.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: free_dma_buffer
#include <malloc.h>
#include <string.h>

#include "tally_test.h"

#define DMA_ALIGNMENT 64
#define DMA_BYTES 200

static TT_NOINLINE void free_dma_buffer(void* buffer) {
  free(buffer);
}

int main(void) {
  void* buffer = memalign(DMA_ALIGNMENT, DMA_BYTES);
  TT_CHECK(buffer != NULL);
  TT_CHECK((uintptr_t)buffer % DMA_ALIGNMENT == 0);
  memset(buffer, 0xd3, DMA_BYTES);
  free_dma_buffer(buffer);
  tt_note_bad_free(buffer, buffer, DMA_BYTES);
  free_dma_buffer(buffer);
  tt_survived();
  return 0;
}
