// Free of an interior pointer of a small live block: a packet buffer is freed through the
// pointer to its body (8 bytes past the header) instead of the block start.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 8 bytes inside of \d+-byte region
// TALLY-EXPECT-FRAME: free_packet_body
#include <string.h>

#include "tally_test.h"

#define PACKET_BYTES 32
#define HEADER_BYTES 8

static TT_NOINLINE char* packet_body(char* packet) {
  return packet + HEADER_BYTES;
}

static TT_NOINLINE void free_packet_body(char* body) {
  free(body);
}

int main(void) {
  char* packet = (char*)malloc(PACKET_BYTES);
  TT_CHECK(packet != NULL);
  memset(packet, 0, PACKET_BYTES);
  char* body = packet_body(packet);
  strcpy(body, "payload");
  tt_note_bad_free(body, packet, PACKET_BYTES);
  free_packet_body(body);
  tt_survived();
  free(packet);
  return 0;
}
