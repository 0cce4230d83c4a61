// The poison of big quarantined blocks: pages the program never touched stay out of memory
// (they are dropped, not filled), and a write after free is found wherever it lands (in
// the part pages at the ends, in a page the program had touched, in a page that was
// dropped), at its exact offset, while a page that was only read after free is not damage.
#include "safety/poison.h"

#include <gtest/gtest.h>
#include <string.h>
#include <sys/mman.h>

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

size_t resident_pages(const uint8_t* start, size_t bytes) {
  std::vector<unsigned char> vector(bytes / kOsPageSize);
  EXPECT_EQ(mincore(const_cast<uint8_t*>(start), bytes, vector.data()), 0);
  size_t count = 0;
  for (unsigned char page : vector) count += page & 1;
  return count;
}

// A block of 200 KiB starting 100 bytes into a page: part pages at both ends.
constexpr size_t kBlockOffset = kOsPageSize + 100;
constexpr size_t kBlockBytes = 200 << 10;

TEST(Poison, PagesTheProgramNeverTouchedStayOutOfMemory) {
  Mapping mapping;
  ASSERT_NE(mapping.base, nullptr);
  uint8_t* block = mapping.base + kBlockOffset;
  memset(block, 'p', 3000);  // the program used the start of its block only
  poison_block(block, kBlockBytes);
  // The first page (part page and the program's bytes) and the last part page are filled.
  EXPECT_LE(resident_pages(mapping.base, kMappingBytes), 3u);
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
  for (size_t i = 0; i < kOsPageSize - 100; ++i) ASSERT_EQ(block[i], kPoisonByte) << i;
}

TEST(Poison, PagesTheProgramTouchedAreFilled) {
  Mapping mapping;
  ASSERT_NE(mapping.base, nullptr);
  uint8_t* block = mapping.base + kBlockOffset;
  memset(block, 'p', kBlockBytes);
  poison_block(block, kBlockBytes);
  for (size_t i = 0; i < kBlockBytes; ++i) ASSERT_EQ(block[i], kPoisonByte) << i;
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
}

TEST(Poison, AWriteAfterFreeIsFoundAtItsOffsetWhereverItLands) {
  // Offsets: the first part page, a touched page, untouched (dropped) pages at a page's
  // start, middle and end, and the last part page.
  const size_t offsets[] = {
      10, 5000, 64 << 10, (64 << 10) + 1234, (128 << 10) - 1, kBlockBytes - 50};
  for (size_t offset : offsets) {
    Mapping mapping;
    ASSERT_NE(mapping.base, nullptr);
    uint8_t* block = mapping.base + kBlockOffset;
    memset(block, 'p', 8192);  // the first two pages were used
    poison_block(block, kBlockBytes);
    block[offset] = 0x42;
    EXPECT_EQ(poison_first_damage(block, kBlockBytes), offset) << "write at " << offset;
  }
}

TEST(Poison, AWriteOfThePatternIntoADroppedPageIsStillDamage) {
  Mapping mapping;
  ASSERT_NE(mapping.base, nullptr);
  uint8_t* block = mapping.base + kBlockOffset;
  poison_block(block, kBlockBytes);
  uint8_t* page = mapping.base + (80 << 10);  // a dropped page, at its first byte
  page[0] = kPoisonByte;
  EXPECT_NE(poison_first_damage(block, kBlockBytes), SIZE_MAX);
}

TEST(Poison, ReadingADroppedPageAfterFreeIsNoDamage) {
  Mapping mapping;
  ASSERT_NE(mapping.base, nullptr);
  uint8_t* block = mapping.base + kBlockOffset;
  poison_block(block, kBlockBytes);
  size_t zeros = 0;
  for (size_t offset = 0; offset < kBlockBytes; offset += 1000) {
    uint8_t value = *static_cast<volatile uint8_t*>(block + offset);
    ASSERT_TRUE(value == kPoisonByte || value == 0) << offset;
    zeros += value == 0;
  }
  EXPECT_GT(zeros, 150u);  // the dropped pages read as zeros
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
}

TEST(Poison, ThePagesOfADroppedBlockReadAsZerosWhenReused) {
  Mapping mapping;
  ASSERT_NE(mapping.base, nullptr);
  uint8_t* block = mapping.base + kBlockOffset;
  memset(block, 'p', kBlockBytes);
  mapping.base[kOsPageSize * 40] = 'q';
  // Evicted from memory before the free: a page out of memory is dropped, so that whatever
  // it held cannot come back (as if from swap) and be taken for a write after free.
  ASSERT_EQ(madvise(mapping.base + kOsPageSize * 40, kOsPageSize, MADV_DONTNEED), 0);
  poison_block(block, kBlockBytes);
  EXPECT_EQ(mapping.base[kOsPageSize * 40], 0);
  EXPECT_EQ(poison_first_damage(block, kBlockBytes), SIZE_MAX);
}

TEST(Poison, SmallBlocksAreFilledWhole) {
  uint8_t buffer[kDroppedPoisonMinimumBytes];
  memset(buffer, 'p', sizeof buffer);
  poison_block(buffer, sizeof buffer);
  for (uint8_t byte : buffer) ASSERT_EQ(byte, kPoisonByte);
  buffer[777] = 1;
  EXPECT_EQ(poison_first_damage(buffer, sizeof buffer), 777u);
}

}  // namespace
}  // namespace tally
