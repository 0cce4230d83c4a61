// Double free of a buffer the C library allocated: getline allocates the line buffer (its
// pointer starts NULL), the reader frees it when it is done with the first line but does
// not clear the caller's pointer, and the caller frees it again at the end. The block was
// allocated inside the C library (getdelim), through the preloaded malloc: its allocation
// stack runs through getdelim, which keeps no frame pointer, so naming read_first_line
// needs an unwinder that gets through it. ASan's frame-pointer unwinder stops at getdelim,
// so only tally's debug mode (the one with allocation stacks) must name it.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: close_input
// TALLY-EXPECT-FREE-FRAME: read_first_line
// TALLY-EXPECT-ALLOC-FRAME[mode=debug]: read_first_line
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "tally_test.h"

static size_t line_capacity;

static TT_NOINLINE long read_first_line(FILE* input, char** line) {
  line_capacity = 0;
  ssize_t length = getline(line, &line_capacity, input);
  TT_CHECK(length > 0 && *line != NULL);
  long words = 1;
  for (const char* c = *line; *c != '\0'; ++c) words += (*c == ' ');
  free(*line); /* done with it, but *line still points to it */
  return words;
}

static TT_NOINLINE void close_input(FILE* input, char* line) {
  fclose(input);
  free(line);
}

int main(void) {
  static char text[] = "line one of the input\nline two\n";
  FILE* input = fmemopen(text, strlen(text), "r");
  TT_CHECK(input != NULL);
  char* line = NULL;
  TT_CHECK(read_first_line(input, &line) == 5);
  tt_note_bad_free(line, line, line_capacity);
  close_input(input, line);
  tt_survived();
  return 0;
}
