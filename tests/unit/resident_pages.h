// For unit tests: how many pages of a range are in memory (mincore), for tests of what
// tally leaves resident (dropped poison, purged large blocks).
#pragma once

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <vector>

#include "core/config.h"

namespace tally {

inline size_t resident_pages(const void* start, size_t bytes) {
  std::vector<unsigned char> residency(bytes / kOsPageSize);
  EXPECT_EQ(mincore(const_cast<void*>(start), bytes, residency.data()), 0);
  size_t resident = 0;
  for (unsigned char page : residency) resident += page & 1;
  return resident;
}

}  // namespace tally
