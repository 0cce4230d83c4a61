// Free of an interior pointer of a live block, with its history: a parser frees the body
// pointer it got by skipping the packet's 16-byte header. safe and debug mode describe
// the block it points into, with the stack that allocated it.
// TALLY-EXPECT-KIND: bad-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 16 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: discard_body
// TALLY-EXPECT-SECTIONS[mode=debug,asan]: alloc
// TALLY-EXPECT-ALLOC-FRAME: receive_packet
#include <string.h>

#include "tally_test.h"

#define PACKET_BYTES 120
#define HEADER_BYTES 16

static TT_NOINLINE unsigned char* receive_packet(void) {
  unsigned char* packet = (unsigned char*)malloc(PACKET_BYTES);
  TT_CHECK(packet != NULL);
  memset(packet, 0, HEADER_BYTES);
  memset(packet + HEADER_BYTES, 'b', PACKET_BYTES - HEADER_BYTES);
  return packet;
}

static TT_NOINLINE void discard_body(unsigned char* body) {
  free(body);
}

int main(void) {
  unsigned char* packet = receive_packet();
  unsigned char* body = packet + HEADER_BYTES;
  tt_note_bad_free(body, packet, PACKET_BYTES);
  discard_body(body); /* should free the packet */
  tt_survived();
  return 0;
}
