// Process facts: the mapping that holds an address, asked of the kernel (PROCMAP_QUERY) or
// read from /proc/self/maps; both must agree, since the second is what older kernels get.
#include "os/process.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

namespace tally {
namespace {

struct Found {
  bool readable;
  uintptr_t start = 0, end = 0;
  bool writable = false;
};

Found by_any_means(uintptr_t address) {
  Found found;
  found.readable = process_find_mapping(address, &found.start, &found.end, &found.writable);
  return found;
}

Found by_reading(uintptr_t address) {
  Found found;
  found.readable =
      process_find_mapping_by_reading(address, &found.start, &found.end, &found.writable);
  return found;
}

// Three mappings in a row, told apart by their protections: read-write, read-only, none.
TEST(ProcessMappings, TheQueryAndTheListingAgree) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* range = static_cast<char*>(
      mmap(nullptr, 6 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(range, MAP_FAILED);
  ASSERT_EQ(mprotect(range + 2 * page, 2 * page, PROT_READ), 0);
  ASSERT_EQ(mprotect(range + 4 * page, 2 * page, PROT_NONE), 0);
  const uintptr_t base = reinterpret_cast<uintptr_t>(range);

  for (uintptr_t address : {base, base + page + 8, base + 2 * page, base + 5 * page + 100}) {
    SCOPED_TRACE(address - base);
    Found asked = by_any_means(address), read = by_reading(address);
    EXPECT_EQ(asked.readable, read.readable);
    if (!read.readable) continue;
    EXPECT_EQ(asked.start, read.start);
    EXPECT_EQ(asked.end, read.end);
    EXPECT_EQ(asked.writable, read.writable);
  }
  Found writable = by_any_means(base + page);
  ASSERT_TRUE(writable.readable);
  EXPECT_LE(writable.start, base);
  EXPECT_EQ(writable.end, base + 2 * page);
  EXPECT_TRUE(writable.writable);
  Found read_only = by_any_means(base + 3 * page);
  ASSERT_TRUE(read_only.readable);
  EXPECT_EQ(read_only.start, base + 2 * page);
  EXPECT_EQ(read_only.end, base + 4 * page);
  EXPECT_FALSE(read_only.writable);
  EXPECT_FALSE(by_any_means(base + 4 * page).readable);  // no access: not a root

  ASSERT_EQ(munmap(range, 6 * page), 0);
  EXPECT_FALSE(by_any_means(base + page).readable);
  EXPECT_FALSE(by_reading(base + page).readable);
}

// The query is what makes the lookup cheap when a process has thousands of mappings (debug
// mode's guarded blocks); where the kernel has it, it must be used and must answer.
TEST(ProcessMappings, TheKernelsQueryAnswersWhereItExists) {
  uintptr_t start = 0, end = 0;
  MappingFlags flags;
  int local = 0;
  MappingAnswer answer =
      process_query_mapping(reinterpret_cast<uintptr_t>(&local), &start, &end, &flags);
  if (answer == MappingAnswer::kUnknown) GTEST_SKIP() << "PROCMAP_QUERY needs Linux 6.11";
  ASSERT_EQ(answer, MappingAnswer::kFound);
  EXPECT_LE(start, reinterpret_cast<uintptr_t>(&local));
  EXPECT_GT(end, reinterpret_cast<uintptr_t>(&local));
  EXPECT_TRUE(flags.readable);
  EXPECT_TRUE(flags.writable);
  EXPECT_EQ(process_query_mapping(0x1000, &start, &end, &flags), MappingAnswer::kNone);
}

// The listing tells what backs each line: the leak check scans private anonymous memory
// (with the brk area) and nothing else of the program's.
MappingLine line_holding(uintptr_t address) {
  struct Search {
    uintptr_t address;
    MappingLine found;
  } search{address, {}};
  process_for_each_mapping(
      [](const MappingLine& line, void* raw) {
        Search& search = *static_cast<Search*>(raw);
        if (line.start <= search.address && search.address < line.end) search.found = line;
        return line.start <= search.address;
      },
      &search);
  return search.found;
}

TEST(ProcessMappings, TheListingTellsWhatBacksALine) {
  long page = sysconf(_SC_PAGESIZE);
  void* anonymous = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* shared = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(anonymous, MAP_FAILED);
  ASSERT_NE(shared, MAP_FAILED);

  MappingLine line = line_holding(reinterpret_cast<uintptr_t>(anonymous));
  EXPECT_EQ(line.backing, MappingBacking::kAnonymous);
  EXPECT_TRUE(line.readable && line.writable);
  EXPECT_FALSE(line.shared);

  line = line_holding(reinterpret_cast<uintptr_t>(shared));
  EXPECT_TRUE(line.shared);  // "/dev/zero (deleted)": a file to the listing
  EXPECT_EQ(line.backing, MappingBacking::kFile);

  line = line_holding(reinterpret_cast<uintptr_t>(&line_holding));  // this program's code
  EXPECT_EQ(line.backing, MappingBacking::kFile);
  EXPECT_FALSE(line.writable);

  line = line_holding(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)));
  EXPECT_EQ(line.backing, MappingBacking::kStack);

  void* brk_area = sbrk(page);
  ASSERT_NE(brk_area, reinterpret_cast<void*>(-1));
  line = line_holding(reinterpret_cast<uintptr_t>(brk_area));
  EXPECT_EQ(line.backing, MappingBacking::kAnonymous);  // "[heap]"
  EXPECT_FALSE(line.shared);

  munmap(anonymous, page);
  munmap(shared, page);
}

}  // namespace
}  // namespace tally
