// Clean: memory the C library allocates on the program's behalf and the program frees
// with free(): strdup, strndup, getline and getdelim (growing their buffer through
// realloc), asprintf, open_memstream, realpath(NULL), scandir. All of it goes through
// the preloaded malloc; none of it may be reported in any mode.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void duplicate_strings(void) {
  for (int i = 0; i < 1000; ++i) {
    char source[64];
    snprintf(source, sizeof(source), "entry-%04d-with-some-text", i);
    char* copy = strdup(source);
    char* prefix = strndup(source, 10);
    TT_CHECK(copy != NULL && prefix != NULL);
    TT_CHECK(strcmp(copy, source) == 0 && strlen(prefix) == 10);
    free(prefix);
    free(copy);
  }
}

static TT_NOINLINE void read_lines(void) {
  FILE* file = tmpfile();
  TT_CHECK(file != NULL);
  for (int i = 0; i < 300; ++i) {
    for (int j = 0; j < i * 7; ++j) fputc('a' + j % 26, file); /* lines up to 2 KB */
    fputc('\n', file);
  }
  fputs("last;field;with;delimiters", file);
  rewind(file);
  char* line = NULL;
  size_t capacity = 0;
  ssize_t length;
  int lines = 0;
  while (lines < 300 && (length = getline(&line, &capacity, file)) > 0) {
    TT_CHECK((size_t)length == (size_t)lines * 7 + 1);
    TT_CHECK(line[length - 1] == '\n');
    ++lines;
  }
  TT_CHECK(lines == 300);
  char* field = NULL;
  size_t field_capacity = 0;
  int fields = 0;
  while (getdelim(&field, &field_capacity, ';', file) > 0) ++fields;
  TT_CHECK(fields >= 3);
  free(field);
  free(line);
  fclose(file);
}

static TT_NOINLINE void formatted(void) {
  char* text = NULL;
  TT_CHECK(asprintf(&text, "%s-%d-%0200d", "pid", 42, 7) > 200);
  free(text);
  char* buffer = NULL;
  size_t size = 0;
  FILE* stream = open_memstream(&buffer, &size);
  TT_CHECK(stream != NULL);
  for (int i = 0; i < 5000; ++i) fprintf(stream, "%d,", i);
  fclose(stream);
  TT_CHECK(size > 5000 && buffer[0] == '0');
  free(buffer);
}

static TT_NOINLINE void paths(void) {
  char* resolved = realpath("/tmp/../tmp/.", NULL);
  TT_CHECK(resolved != NULL);
  free(resolved);
  struct dirent** entries = NULL;
  int count = scandir("/", &entries, NULL, alphasort);
  TT_CHECK(count > 0);
  for (int i = 0; i < count; ++i) free(entries[i]);
  free(entries);
}

int main(void) {
  duplicate_strings();
  read_lines();
  formatted();
  paths();
  return 0;
}
