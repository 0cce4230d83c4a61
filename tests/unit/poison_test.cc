// The poison of big quarantined blocks: pages the program never touched stay out of memory
// (they are dropped, not filled), and a write after free is found wherever it lands (in
// the part pages at the ends, in a page the program had touched, in a page that was
// dropped, in the record of which pages were dropped), at its exact offset, zeros
// included where the pattern was, while a page that was only read after free is not damage.
#include "safety/poison.h"

#include <gtest/gtest.h>
#include <string.h>
#include <sys/mman.h>

#include <vector>

#include "resident_pages.h"

namespace tally {
namespace {

constexpr size_t kMappingBytes = 512 << 10;

struct Mapping {
  uint8_t* base;
  Mapping() {
    void* memory =
        mmap(nullptr, kMappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base = memory == MAP_FAILED ? nullptr : static_cast<uint8_t*>(memory);
  }
  ~Mapping() {
    if (base) munmap(base, kMappingBytes);
  }
};

// A block of 200 KiB starting 100 bytes into a page: part pages at both ends. Its first
// whole page starts kOsPageSize - 100 bytes in, with the 16-byte record of dropped pages.
constexpr size_t kBlockOffset = kOsPageSize + 100;
constexpr size_t kBlockBytes = 200 << 10;
constexpr size_t kFirstWholePage = kOsPageSize - 100;  // offset in the block
constexpr size_t kRecordBytes = 16;

bool in_record(size_t offset) {
  return offset >= kFirstWholePage && offset < kFirstWholePage + kRecordBytes;
}

// Each test gets a fresh mapping, nothing of it in memory, and a block inside it.
class Poison : public testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(mapping.base, nullptr); }
  Mapping mapping;
  uint8_t* block = mapping.base + kBlockOffset;
};

TEST_F(Poison, PagesTheProgramNeverTouchedStayOutOfMemory) {
  memset(block, 'p', 3000);  // the program used the start of its block only
  poison_block(block, kBlockBytes);
  // The first page (part page and the program's bytes) and the last part page are filled.
  EXPECT_LE(resident_pages(mapping.base, kMappingBytes), 3u);
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
  for (size_t i = 0; i < kOsPageSize - 100; ++i) ASSERT_EQ(block[i], kPoisonByte) << i;
}

TEST_F(Poison, PagesTheProgramTouchedAreFilled) {
  memset(block, 'p', kBlockBytes);
  poison_block(block, kBlockBytes);
  for (size_t i = 0; i < kBlockBytes; ++i) {
    if (in_record(i)) continue;
    ASSERT_EQ(block[i], kPoisonByte) << i;
  }
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
}

TEST_F(Poison, BelowTheMinimumEveryPageIsFilled) {
  // One byte short of the size that is sure to hold kDroppedPoisonMinimumBytes of whole pages.
  size_t bytes = kDroppedPoisonMinimumBytes + kOsPageSize - 1;
  poison_block(block, bytes);
  for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(block[i], kPoisonByte) << i;
  EXPECT_EQ(poison_first_damage(block, bytes), SIZE_MAX);
}

TEST_F(Poison, AWriteAfterFreeIsFoundAtItsOffsetWhereverItLands) {
  // Offsets: the first part page, the record, touched pages at a page's first byte and
  // inside, untouched (dropped) pages at a page's first byte, inside and last byte, and the
  // last part page.
  const size_t offsets[] = {10,
                            kFirstWholePage + 3,
                            kFirstWholePage + kOsPageSize,
                            5000,
                            kFirstWholePage + 20 * kOsPageSize,
                            (64 << 10) + 1234,
                            kFirstWholePage + 31 * kOsPageSize - 1,
                            kBlockBytes - 50};
  for (size_t offset : offsets) {
    Mapping fresh;  // one per write
    ASSERT_NE(fresh.base, nullptr);
    uint8_t* target = fresh.base + kBlockOffset;
    memset(target, 'p', 8192);  // the first two pages were used
    poison_block(target, kBlockBytes);
    target[offset] = 0x42;
    size_t expected = in_record(offset) ? kFirstWholePage : offset;  // the record's start
    EXPECT_EQ(poison_first_damage(target, kBlockBytes), expected) << "write at " << offset;
  }
}

TEST_F(Poison, ZerosWrittenWhereThePatternWasAreDamage) {
  memset(block, 'p', kBlockBytes);  // every page in memory: every page filled
  poison_block(block, kBlockBytes);
  size_t page = kFirstWholePage + 10 * kOsPageSize;
  memset(block + page, 0, kOsPageSize);  // a stale pointer's memset clears a whole page
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), page);
}

TEST_F(Poison, AWriteOfThePatternIntoADroppedPageIsDamageAtItsOffset) {
  poison_block(block, kBlockBytes);
  size_t offset = kFirstWholePage + 19 * kOsPageSize;  // a dropped page, at its first byte
  block[offset] = kPoisonByte;
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), offset);
}

TEST_F(Poison, ReadingADroppedPageAfterFreeIsNoDamage) {
  poison_block(block, kBlockBytes);
  size_t zeros = 0;
  for (size_t offset = 0; offset < kBlockBytes; offset += 1000) {
    if (in_record(offset)) continue;
    uint8_t value = *static_cast<volatile uint8_t*>(block + offset);
    ASSERT_TRUE(value == kPoisonByte || value == 0) << offset;
    zeros += value == 0;
  }
  EXPECT_GT(zeros, 150u);  // the dropped pages read as zeros
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
}

TEST_F(Poison, APageOutOfMemoryAtTheFreeIsDroppedNotFilled) {
  memset(block, 'p', kBlockBytes);
  // Out of memory when the block is freed (as a page in swap would be): it is dropped, so
  // that it reads as zeros and stays out of memory, and whatever it held cannot come back
  // and be taken for a write after free.
  uint8_t* evicted = mapping.base + kOsPageSize * 40;
  ASSERT_EQ(madvise(evicted, kOsPageSize, MADV_DONTNEED), 0);
  poison_block(block, kBlockBytes);
  EXPECT_EQ(resident_pages(evicted, kOsPageSize), 0u);
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
  EXPECT_EQ(evicted[0], 0);
}

TEST_F(Poison, SmallBlocksAreFilledWhole) {
  uint8_t buffer[kDroppedPoisonMinimumBytes];
  memset(buffer, 'p', sizeof buffer);
  poison_block(buffer, sizeof buffer);
  for (uint8_t byte : buffer) ASSERT_EQ(byte, kPoisonByte);
  buffer[777] = 1;
  EXPECT_EQ(poison_first_damage(buffer, sizeof buffer), 777u);
}

}  // namespace
}  // namespace tally
