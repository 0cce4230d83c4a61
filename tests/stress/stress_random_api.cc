// Random programs over the whole allocation API: each thread runs a random mix of malloc,
// calloc, realloc, reallocarray, posix_memalign, memalign, aligned_alloc, valloc, the C++
// operators (plain, array, aligned, sized, nothrow), malloc_usable_size, malloc_trim and
// free, on sizes that favour the edges (0, size-class and page boundaries, the small/large
// limit, a few MiB), and mails blocks to other threads through an exchange board, so every
// block may be freed by a thread that did not allocate it. Every block carries a pattern
// salted with its own serial number: a block handed out twice, moved without its contents,
// or written by the allocator's bookkeeping is caught at its next check. Run in every mode:
// the checked modes take other paths (records, canaries, quarantine, guard pages, moves).
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>

#include <atomic>
#include <new>
#include <thread>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::CheckPositional;
using tally_test::FillPositional;
using tally_test::IsAligned;
using tally_test::Rng;

enum class Release : uint8_t { kFree, kDelete, kSizedDelete, kDeleteArray, kAlignedDelete };

struct Block {
  unsigned char* data = nullptr;
  size_t size = 0;
  size_t alignment = 0;  // for kAlignedDelete
  Release release = Release::kFree;
  uint64_t salt = 0;
};

constexpr int kThreads = 4;
constexpr int kRounds = 3;
constexpr long kOperationsPerThread = 40000;
constexpr size_t kSlots = 256;
constexpr size_t kBoardSlots = 128;

std::atomic<Block*> g_board[kBoardSlots];
std::atomic<uint64_t> g_next_salt{1};
std::atomic<long> g_failures{0};

void fail(const char* what, const Block& block, size_t offset) {
  if (g_failures.fetch_add(1) < 5)
    ADD_FAILURE() << what << ": block " << static_cast<void*>(block.data) << " of " << block.size
                  << " bytes, at offset " << offset;
}

void stamp(Block& block) {
  block.salt = g_next_salt.fetch_add(1, std::memory_order_relaxed);
  FillPositional(block.data, 0, block.size, block.salt);
}

void check(const Block& block, const char* when) {
  size_t bad = CheckPositional(block.data, 0, block.size, block.salt);
  if (bad != block.size) fail(when, block, bad);
}

size_t pick_size(Rng& random) {
  static const size_t kEdges[] = {1,     15,    16,    17,     63,     64,    65,   255,
                                  256,   257,   1023,  1024,   1025,   4095,  4096, 4097,
                                  65535, 65536, 65537, 262143, 262144, 262145};
  switch (random.Next() % 12) {
    case 0:
      return 0;
    case 1:
      return kEdges[random.Next() % (sizeof kEdges / sizeof kEdges[0])];
    case 2:
      return random.Range(0, 300000);
    case 3:
      return random.Next() % 40 == 0 ? random.Range(0, 6 << 20) : random.Range(0, 5000);
    default:
      return random.Range(0, 600);
  }
}

void release(Block& block) {
  if (!block.data) return;
  check(block, "damaged before its free");
  switch (block.release) {
    case Release::kFree:
      free(block.data);
      break;
    case Release::kDelete:
      operator delete(block.data);
      break;
    case Release::kSizedDelete:
      operator delete(block.data, block.size);
      break;
    case Release::kDeleteArray:
      operator delete[](block.data);
      break;
    case Release::kAlignedDelete:
      operator delete(block.data, std::align_val_t(block.alignment));
      break;
  }
  block = Block();
}

void allocate_aligned(Block& block, Rng& random) {
  size_t alignment = size_t{1} << random.Range(0, 20);
  size_t size = pick_size(random);
  void* data = nullptr;
  switch (random.Next() % 3) {
    case 0:
      if (alignment < sizeof(void*)) alignment = sizeof(void*);
      ASSERT_EQ(posix_memalign(&data, alignment, size), 0) << alignment << " " << size;
      break;
    case 1:
      data = memalign(alignment, size);
      break;
    default:
      size = (size + alignment - 1) / alignment * alignment;  // C11 asks for a multiple
      data = aligned_alloc(alignment, size);
      break;
  }
  ASSERT_NE(data, nullptr) << alignment << " " << size;
  ASSERT_TRUE(IsAligned(data, alignment)) << data << " " << alignment;
  block = Block{static_cast<unsigned char*>(data), size, 0, Release::kFree, 0};
  stamp(block);
}

void allocate_with_new(Block& block, Rng& random) {
  size_t size = pick_size(random);
  switch (random.Next() % 4) {
    case 0:
      block = Block{static_cast<unsigned char*>(operator new(size)), size, 0,
                    random.Next() % 2 ? Release::kSizedDelete : Release::kDelete, 0};
      break;
    case 1:
      block = Block{new unsigned char[size], size, 0, Release::kDeleteArray, 0};
      break;
    case 2: {
      size_t alignment = size_t{32} << random.Range(0, 10);
      block = Block{static_cast<unsigned char*>(operator new(size, std::align_val_t(alignment))),
                    size, alignment, Release::kAlignedDelete, 0};
      ASSERT_TRUE(IsAligned(block.data, alignment));
      break;
    }
    default:
      block = Block{static_cast<unsigned char*>(operator new(size, std::nothrow)), size, 0,
                    Release::kDelete, 0};
      break;
  }
  ASSERT_NE(block.data, nullptr);
  stamp(block);
}

// realloc or reallocarray of a malloc-family block: the common prefix must survive.
void resize(Block& block, Rng& random) {
  if (block.data && block.release != Release::kFree) return;
  size_t size;
  void* data;
  if (block.data && random.Next() % 4 == 0) {
    size_t count = random.Range(1, 200);
    size = count * 37;
    data = reallocarray(block.data, count, 37);
  } else {
    size = pick_size(random);
    data = realloc(block.data, size);
  }
  if (size == 0) {  // realloc(p, 0) frees p and returns NULL, or returns a 0-byte block
    free(data);
    block = Block();
    return;
  }
  ASSERT_NE(data, nullptr) << size;
  Block moved{static_cast<unsigned char*>(data), size, 0, Release::kFree, block.salt};
  size_t kept = block.size < size ? block.size : size;
  size_t bad = CheckPositional(moved.data, 0, kept, block.salt);
  if (bad != kept) fail("realloc lost the block's contents", moved, bad);
  block = moved;
  stamp(block);
}

// Swaps the slot's block with what the board holds at a random place: the block goes to
// whichever thread takes it next, and the thread may get another thread's block.
void mail(Block& block, Rng& random) {
  Block* outgoing = block.data ? new Block(block) : nullptr;
  Block* incoming = g_board[random.Next() % kBoardSlots].exchange(outgoing);
  block = Block();
  if (incoming) {
    block = *incoming;
    delete incoming;
    check(block, "damaged while mailed");
  }
}

void run_random_program(uint64_t seed) {
  Rng random(seed);
  std::vector<Block> slots(kSlots);
  for (long step = 0; step < kOperationsPerThread && g_failures.load() == 0; ++step) {
    Block& block = slots[random.Next() % kSlots];
    switch (random.Next() % 20) {
      case 0:
      case 1:
      case 2: {
        release(block);
        size_t size = pick_size(random);
        block = Block{static_cast<unsigned char*>(malloc(size)), size, 0, Release::kFree, 0};
        ASSERT_NE(block.data, nullptr) << size;
        stamp(block);
        break;
      }
      case 3: {
        release(block);
        size_t count = random.Range(1, 64), each = random.Range(0, 200);
        block = Block{static_cast<unsigned char*>(calloc(count, each)), count * each, 0,
                      Release::kFree, 0};
        ASSERT_NE(block.data, nullptr);
        for (size_t i = 0; i < block.size; ++i)
          if (block.data[i] != 0) return fail("calloc's block is not zeroed", block, i);
        stamp(block);
        break;
      }
      case 4:
      case 5:
      case 6:
        resize(block, random);
        break;
      case 7:
        release(block);
        allocate_aligned(block, random);
        break;
      case 8:
        // The usable size is the block's to use, all of it, for as long as it lives.
        if (block.data && block.release == Release::kFree) {
          size_t usable = malloc_usable_size(block.data);
          ASSERT_GE(usable, block.size);
          check(block, "damaged before malloc_usable_size");
          block.size = usable;
          stamp(block);
        }
        break;
      case 9:
        release(block);
        allocate_with_new(block, random);
        break;
      case 10:
        mail(block, random);
        break;
      case 11:
        if (random.Next() % 64 == 0) {
          void* page =
              random.Next() % 2 ? valloc(random.Range(1, 10000)) : pvalloc(random.Range(1, 10000));
          ASSERT_NE(page, nullptr);
          ASSERT_TRUE(IsAligned(page, tally_test::PageSize()));
          free(page);
        }
        break;
      case 12:
        if (random.Next() % 256 == 0) malloc_trim(0);
        break;
      default:
        release(block);
        break;
    }
  }
  for (Block& block : slots) release(block);
}

TEST(StressRandomApi, EveryEntryPointAcrossThreadsKeepsEveryBlockIntact) {
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back(run_random_program, uint64_t(round) * 1000 + uint64_t(i) + 1);
    for (std::thread& thread : threads) thread.join();
  }
  for (std::atomic<Block*>& place : g_board) {
    if (Block* left = place.exchange(nullptr)) {
      release(*left);
      delete left;
    }
  }
  EXPECT_EQ(g_failures.load(), 0);
}

}  // namespace
