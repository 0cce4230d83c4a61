// Statistics from tally's books, gathered on demand by walking the heaps (no counters
// shared between threads on the hot path).
#pragma once

#include "tally.h"

namespace tally {

void statistics_collect(tally_stats* out);
void statistics_print();          // the report `stats=1` prints at exit
void statistics_print_options();  // the options in effect (verbosity=1)

}  // namespace tally
