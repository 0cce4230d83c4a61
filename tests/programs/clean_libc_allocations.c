// Clean: memory that the C library allocates on the program's behalf (through malloc, so
// through tally) and that the program must free: strdup, strndup, getline, getdelim,
// asprintf, vasprintf, open_memstream, realpath, getcwd(NULL, 0), scandir, and the
// internal buffers of fopen/fclose.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tally_test.h"

static TT_NOINLINE void duplicates(void) {
  char* copy = strdup("duplicate me");
  TT_CHECK(copy != NULL && strcmp(copy, "duplicate me") == 0);
  char* prefix = strndup("prefix-and-the-rest", 6);
  TT_CHECK(prefix != NULL && strcmp(prefix, "prefix") == 0);
  free(copy);
  free(prefix);
}

static TT_NOINLINE void formatted(void) {
  char* text = NULL;
  TT_CHECK(asprintf(&text, "%s-%d-%0300d", "value", 42, 7) > 300);
  free(text);
}

static TT_NOINLINE int format_list(char** result, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int length = vasprintf(result, format, arguments);
  va_end(arguments);
  return length;
}

static TT_NOINLINE void streams(void) {
  char* buffer = NULL;
  size_t size = 0;
  FILE* stream = open_memstream(&buffer, &size);
  TT_CHECK(stream != NULL);
  for (int i = 0; i < 5000; ++i) fprintf(stream, "line %d of the memory stream\n", i);
  TT_CHECK(fclose(stream) == 0);
  TT_CHECK(size > 5000 * 20);
  free(buffer);

  /* getline / getdelim over a temporary file with a few very long lines */
  FILE* file = tmpfile();
  TT_CHECK(file != NULL);
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < i * 100; ++j) fputc('a' + j % 26, file);
    fputc('\n', file);
  }
  rewind(file);
  char* line = NULL;
  size_t capacity = 0;
  int lines = 0;
  while (getline(&line, &capacity, file) != -1) ++lines;
  TT_CHECK(lines == 50);
  free(line);
  rewind(file);
  char* field = NULL;
  capacity = 0;
  TT_CHECK(getdelim(&field, &capacity, 'z', file) > 0);
  free(field);
  fclose(file);
}

static int any_entry(const struct dirent* entry) {
  return entry->d_name[0] != '\0';
}

static TT_NOINLINE void paths(void) {
  char* resolved = realpath("/proc/self/../self/.", NULL);
  TT_CHECK(resolved != NULL);
  free(resolved);
  char* cwd = getcwd(NULL, 0);
  TT_CHECK(cwd != NULL);
  free(cwd);
  struct dirent** entries = NULL;
  int count = scandir("/proc/self", &entries, any_entry, alphasort);
  TT_CHECK(count > 2);
  for (int i = 0; i < count; ++i) free(entries[i]);
  free(entries);
}

int main(void) {
  for (int i = 0; i < 20; ++i) {
    duplicates();
    formatted();
    char* listed = NULL;
    TT_CHECK(format_list(&listed, "%d %s %f", i, "items", 1.5) > 0);
    free(listed);
    streams();
    paths();
  }
  return 0;
}
