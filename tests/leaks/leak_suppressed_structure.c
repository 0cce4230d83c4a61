/* A suppressed leak takes what it reaches with it: a leaked table whose allocation matches
 * a suppression hides the entries it points to, though their own allocation stacks match
 * none (as LeakSanitizer does; reported as indirect leaks of their own, every node of a
 * suppressed structure would need a suppression of its own). A list leaked from elsewhere,
 * built by the same function, is still reported whole. */
// LEAK-MODES: debug
// LEAK-OPTIONS: suppressions={source_dir}/leak_suppressed_structure.supp
// LEAK-EXPECT: direct 24 1 make_entry fresh_list
// LEAK-EXPECT: indirect 48 2 make_entry fresh_list
// LEAK-EXPECT-REGEX: Suppressions used:\n  count      bytes template\n +4 +136 legacy_table_create
#include "leak_test.h"

struct entry {
  struct entry* next;
  long value;
  long spare;
};

static LT_NOINLINE struct entry* make_entry(struct entry* next, long value) {
  struct entry* entry = malloc(sizeof *entry);
  entry->next = next;
  entry->value = value;
  entry->spare = 0;
  return entry;
}

static LT_NOINLINE struct entry** legacy_table_create(void) {
  struct entry** table = malloc(8 * sizeof *table);
  memset(table, 0, 8 * sizeof *table);
  return table;
}

/* The entries come from outside the suppressed function, so no frame of theirs matches. */
static LT_NOINLINE void fill_table(struct entry** table) {
  table[1] = make_entry(NULL, 1);
  table[5] = make_entry(make_entry(NULL, 3), 2); /* an entry reached through another */
}

static LT_NOINLINE void leak_table(void) {
  fill_table(legacy_table_create());
}

static LT_NOINLINE void fresh_list(void) {
  struct entry* head = NULL;
  for (long i = 0; i < 3; ++i) head = make_entry(head, i);
  head->spare = 7;
}

int main(void) {
  leak_table();
  fresh_list();
  lt_scrub_stack();
  return lt_finish();
}
