// Use after free, write, after realloc moved the block: a symbol table hands out a pointer
// to an entry, then grows its array with realloc to add one more symbol; the caller updates
// the entry through the old pointer, i.e. inside the block realloc freed. In safe mode
// sampling is off: the test is of the poison check (no sampled guard page may catch the
// write first).
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-OPTIONS[mode=safe]: sample_rate=0
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: define_symbol
// TALLY-EXPECT-FREE-FRAME: grow_table
// TALLY-EXPECT-ALLOC-FRAME: create_table
#include <stdint.h>
#include <string.h>

#include "tally_test.h"

struct symbol {
  char name[16];
  long value;
};

struct table {
  struct symbol* symbols;
  size_t count;
  size_t capacity;
};

static TT_NOINLINE void create_table(struct table* table, size_t capacity) {
  table->symbols = (struct symbol*)malloc(capacity * sizeof(struct symbol));
  TT_CHECK(table->symbols != NULL);
  table->count = 0;
  table->capacity = capacity;
}

static TT_NOINLINE void grow_table(struct table* table) {
  size_t capacity = table->capacity * 2;
  struct symbol* grown = (struct symbol*)realloc(table->symbols, capacity * sizeof(struct symbol));
  TT_CHECK(grown != NULL);
  table->symbols = grown;
  table->capacity = capacity;
}

static TT_NOINLINE struct symbol* add_symbol(struct table* table, const char* name) {
  if (table->count == table->capacity) grow_table(table);
  struct symbol* symbol = &table->symbols[table->count++];
  strncpy(symbol->name, name, sizeof(symbol->name) - 1);
  symbol->name[sizeof(symbol->name) - 1] = '\0';
  symbol->value = 0;
  return symbol;
}

static TT_NOINLINE void define_symbol(struct symbol* symbol, void* table_block, long value) {
  tt_note_bad_access(&symbol->value, sizeof(symbol->value), table_block, 4 * sizeof(struct symbol));
  symbol->value = value;
  tt_after_bad_access();
}

int main(void) {
  struct table table;
  create_table(&table, 4);
  add_symbol(&table, "argc");
  add_symbol(&table, "argv");
  add_symbol(&table, "environ");
  struct symbol* pending = add_symbol(&table, "errno"); /* the table is now full */
  void* first_block = table.symbols;
  add_symbol(&table, "stdin"); /* grows: realloc moves the array */
  TT_PRECONDITION(table.symbols != first_block);
  define_symbol(pending, first_block, 42); /* through the pointer into the old array */
  return 0;
}
