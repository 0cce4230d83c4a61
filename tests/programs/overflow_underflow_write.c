// Heap buffer underflow, write, p[-1]: joining an empty directory with a file name writes
// the separator at index dir_length - 1 = -1, one byte before the path buffer. A guard
// page after the block cannot see this, so the program runs in debug mode with
// guard_side=left: the block starts right after its guard page and the store faults.
// TALLY-OPTIONS: mode=debug:guard_side=left
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-ACCESS: WRITE
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 1 bytes to the left of 64-byte region
// TALLY-EXPECT-ACCESS-FRAME: join_path
// TALLY-EXPECT-ALLOC-FRAME: new_path_buffer
#include <string.h>

#include "tally_test.h"

#define PATH_BYTES 64

static TT_NOINLINE char* new_path_buffer(void) {
  char* path = (char*)malloc(PATH_BYTES);
  TT_CHECK(path != NULL);
  path[0] = '\0';
  return path;
}

static TT_NOINLINE void join_path(char* path, const char* directory, const char* file) {
  int directory_length = (int)strlen(directory);
  memcpy(path, directory, (size_t)directory_length);
  if (directory_length == 0 || path[directory_length - 1] != '/') {
    tt_note_bad_access(path + directory_length - 1, 1, path, PATH_BYTES);
    path[directory_length - 1] = '/'; /* meant: path[directory_length++] = '/' */
    tt_after_bad_access();
  }
  strcpy(path + directory_length, file);
}

int main(void) {
  char* path = new_path_buffer();
  join_path(path, "", "notes.txt");
  free(path);
  return 0;
}
