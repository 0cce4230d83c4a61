// The guard pool: blocks flush against a guard page, inaccessible once freed, slots reused
// oldest first, and a bounded number of slots. Runs in mode=debug (every small block guarded).
#include "safety/guard_pool.h"

#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "core/registry.h"
#include "os/process.h"
#include "safety/fill_patterns.h"
#include "safety/protection_budget.h"
#include "safety/safety_config.h"
#include "tally.h"

namespace tally {
namespace {

sigjmp_buf g_jump;
void on_fault(int) {
  siglongjmp(g_jump, 1);
}

// True if reading `address` faults. Installs its own handler for the probe, so tally's
// report handler does not end the test.
bool read_faults(const volatile char* address) {
  struct sigaction probe = {}, previous;
  probe.sa_handler = on_fault;
  sigaction(SIGSEGV, &probe, &previous);
  bool faulted = true;
  if (sigsetjmp(g_jump, 1) == 0) {
    (void)*address;
    faulted = false;
  }
  sigaction(SIGSEGV, &previous, nullptr);
  return faulted;
}

// A guarded block's alignment in debug mode: the largest power of two that divides its
// size, at most 16, and never less than the C standard asks of malloc (16 for 16 bytes or
// more, the largest power of two not above a smaller size).
size_t expected_alignment(size_t size) {
  size_t divisor = size & (~size + 1);
  size_t least = 1;
  while (least * 2 <= size && least < 16) least *= 2;
  if (divisor < least) divisor = least;
  return divisor < 16 ? divisor : 16;
}

TEST(GuardPool, SmallBlocksEndAtTheirGuardPage) {
  ASSERT_TRUE(g_safety.guard_all) << "run with TALLY_OPTIONS=mode=debug";
  ASSERT_EQ(g_safety.guard_min_alignment, 0u);
  for (size_t size : {size_t{1}, size_t{3}, size_t{6}, size_t{10}, size_t{16}, size_t{24},
                      size_t{100}, size_t{4095}, size_t{4096}, size_t{5000}}) {
    char* block = static_cast<char*>(tally_malloc(size));
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(block)), kRegistryGuarded);
    size_t alignment = expected_alignment(size);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % alignment, 0u) << size;
    // What compilers assume of malloc: 16-byte stores (movaps) into any block of 16 bytes
    // or more.
    if (size >= 16) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % 16, 0u) << size;
    }
    block[0] = 1;
    block[size - 1] = 2;
    // The guard page follows the end, or the slack the alignment leaves before it: none
    // for 4096 or 3 bytes, 12 for 100 (aligned to 16), 2 for 6 (aligned to 4).
    uintptr_t end = reinterpret_cast<uintptr_t>(block) + size;
    uintptr_t guard = (end + 4095) & ~uintptr_t{4095};
    EXPECT_EQ(guard - end, (alignment - size % alignment) % alignment) << size;
    EXPECT_TRUE(read_faults(reinterpret_cast<char*>(guard))) << size;
    tally_free(block);
  }
}

TEST(GuardPool, AlignedCallsKeepTheirAlignment) {
  for (size_t alignment : {size_t{16}, size_t{64}, size_t{4096}}) {
    void* memory = nullptr;
    ASSERT_EQ(tally_posix_memalign(&memory, alignment, 100), 0);
    EXPECT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(memory)), kRegistryGuarded);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(memory) % alignment, 0u) << alignment;
    tally_free(memory);
    char* block = static_cast<char*>(tally_aligned_alloc(alignment, 4 * alignment));
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % alignment, 0u) << alignment;
    EXPECT_TRUE(read_faults(block + 4 * alignment));
    tally_free(block);
  }
}

TEST(GuardPool, FreedBlocksFaultOnAccess) {
  char* block = static_cast<char*>(tally_malloc(64));
  block[10] = 5;
  tally_free(block);
  EXPECT_TRUE(read_faults(block + 10));
}

// Time budget off for the tests that count guarded blocks: under a loaded machine the
// budget could turn some away.
struct NoTimeBudget {
  NoTimeBudget() { protection_budget_set_time_percent(0); }
  ~NoTimeBudget() { protection_budget_set_time_percent(g_safety.guard_time_percent); }
};

TEST(GuardPool, SlotsAreReusedOldestFirstAndBounded) {
  NoTimeBudget no_budget;
  EXPECT_EQ(guard_pool_live_slots(), 0u);
  std::vector<void*> live;
  // More allocations than slots: the rest fall back to ordinary blocks with canaries.
  for (size_t i = 0; i < g_safety.guard_pool_slots + 10; ++i) live.push_back(tally_malloc(32));
  EXPECT_EQ(guard_pool_live_slots(), g_safety.guard_pool_slots);
  size_t guarded = 0;
  for (void* block : live)
    guarded += registry_lookup(reinterpret_cast<uintptr_t>(block)) == kRegistryGuarded;
  EXPECT_EQ(guarded, g_safety.guard_pool_slots);
  void* oldest_freed = live[0];
  for (void* block : live) tally_free(block);
  EXPECT_EQ(guard_pool_live_slots(), 0u);
  // The next guarded block takes the slot freed first.
  void* reused = tally_malloc(32);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(reused) & ~uintptr_t{4095},
            reinterpret_cast<uintptr_t>(oldest_freed) & ~uintptr_t{4095});
  tally_free(reused);
}

// Frees `count` blocks of `size` bytes, each guarded (a slot taken from the freed ones
// while none is unused: every slot has been used by the time this runs, or it uses them).
void churn_guarded(size_t size, size_t count) {
  std::vector<void*> blocks;
  for (size_t i = 0; i < count; ++i) blocks.push_back(tally_malloc(size));
  for (void* block : blocks) tally_free(block);
}

// guard_rate off while it lives, so that every block of a fast loop is guarded.
struct NoGuardRate {
  uint32_t saved = g_safety.guard_rate;
  NoGuardRate() { g_safety.guard_rate = 0; }
  ~NoGuardRate() { g_safety.guard_rate = saved; }
};

// A block whose slot was reused is remembered by its start, with its record, so that a
// free of it long after is a double free with its history, not a bad free inside whatever
// the slot holds now; a slot remembers the last four addresses its blocks started at.
TEST(GuardPool, ABlockWhoseSlotWasReusedIsRememberedByItsStart) {
  NoTimeBudget no_budget;
  NoGuardRate no_rate;
  // Every slot used once, so that the next blocks take freed slots, oldest first.
  churn_guarded(32, g_safety.guard_pool_slots);
  // A size no other test uses, so that no earlier block of its slot started where it does.
  constexpr size_t kTokenSize = 232;  // starts 240 bytes before the slot's end
  char* token = static_cast<char*>(tally_malloc(kTokenSize));
  ASSERT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(token)), kRegistryGuarded);
  uintptr_t address = reinterpret_cast<uintptr_t>(token);
  GuardSlot* slot = guard_pool_slot_of(address);
  tally_free(token);
  BlockRecord freed_with = slot->record;
  EXPECT_NE(freed_with.free_stack, 0u);
  BlockRecord remembered = {};
  EXPECT_FALSE(guard_pool_departed(address, &remembered))
      << "remembered before its slot was reused";
  // Every slot taken again, by blocks of one other size: the token's slot holds a 2000-byte
  // block, which the token's start lies inside.
  churn_guarded(2000, g_safety.guard_pool_slots);
  ASSERT_TRUE(guard_pool_departed(address, &remembered));
  EXPECT_EQ(remembered.size(), kTokenSize);
  EXPECT_EQ(remembered.free_stack, freed_with.free_stack);
  EXPECT_EQ(remembered.alloc_stack, freed_with.alloc_stack);
  EXPECT_FALSE(guard_pool_departed(address + 8, &remembered)) << "no block started there";
  // Each churn below makes the block of the one before it depart, a new address in every
  // slot (the 2000-byte block's, then the 96-, 112- and 128-byte ones'): the token's start
  // stays among the last four until the fourth of them.
  for (size_t size : {size_t{96}, size_t{112}, size_t{128}, size_t{144}}) {
    churn_guarded(size, g_safety.guard_pool_slots);
    EXPECT_EQ(guard_pool_departed(address, &remembered), size != 144) << size;
  }
}

// halt_on_error=0 carries on after a fault by opening what it hit
// (guard_pool_open_faulting_pages), found as the fault handler finds it: a guard page, or
// all of a freed slot's data. The slots beside an opened guard, and a slot whose data was
// opened, must be whole again once the slot holds a block anew.
char* open_as_handler_would(char* address) {
  GuardSlot* slot = guard_pool_slot_of(reinterpret_cast<uintptr_t>(address));
  EXPECT_NE(slot, nullptr);
  if (!slot) return address;
  EXPECT_TRUE(
      guard_pool_open_faulting_pages(slot, reinterpret_cast<uintptr_t>(address), slot->block));
  return address;
}

TEST(GuardPool, OpenedPagesCloseAgainWhenTheirSlotIsReused) {
  NoTimeBudget no_budget;
  char* block = static_cast<char*>(tally_malloc(64));
  ASSERT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(block)), kRegistryGuarded);
  uintptr_t first_page = reinterpret_cast<uintptr_t>(block) & ~uintptr_t{4095};
  GuardSlot* slot = guard_pool_slot_of(reinterpret_cast<uintptr_t>(block));
  // Its right guard (the handler gives it to this slot) and its left one (to the slot
  // below, whose right guard it is).
  char* guard = block + 64;
  uintptr_t data_size = (g_safety.guard_max_size + 4095) & ~uintptr_t{4095};
  char* left_guard = reinterpret_cast<char*>(guard_pool_data_end(slot) - data_size - 1);
  ASSERT_TRUE(read_faults(guard));
  ASSERT_TRUE(read_faults(left_guard));
  EXPECT_FALSE(read_faults(open_as_handler_would(guard)));
  EXPECT_FALSE(read_faults(open_as_handler_would(left_guard)));
  // Freed: a read of it opens all of its data at once.
  tally_free(block);
  bool markers = guard_pool_uses_markers();
  char* before = reinterpret_cast<char*>(first_page - 1);  // a data page of the slot's
  ASSERT_TRUE(read_faults(block + 10));
  if (markers) {
    ASSERT_TRUE(read_faults(before));
  }
  EXPECT_FALSE(read_faults(open_as_handler_would(block + 10)));
  EXPECT_FALSE(read_faults(before));
  // Freed slots are reused oldest first, after the ones never used: allocate until this
  // one comes back.
  std::vector<void*> taken;
  char* reused = nullptr;
  for (size_t i = 0; i <= g_safety.guard_pool_slots && !reused; ++i) {
    char* next = static_cast<char*>(tally_malloc(64));
    if ((reinterpret_cast<uintptr_t>(next) & ~uintptr_t{4095}) == first_page)
      reused = next;
    else
      taken.push_back(next);
  }
  ASSERT_NE(reused, nullptr);
  EXPECT_TRUE(read_faults(reused + 64));
  EXPECT_TRUE(read_faults(left_guard));
  if (markers) {
    EXPECT_TRUE(read_faults(before));
  }
  EXPECT_FALSE(read_faults(reused + 63));
  tally_free(reused);
  for (void* other : taken) tally_free(other);
}

// A block's slot has room for blocks of guard_max_size: the data pages before a small
// block's first page are no one's, and an underflow that reaches them must fault, not
// read or write them unseen (with guard markers; with mprotect a slot is protected whole).
void expect_pages_before_blocks_fault(const char* when) {
  std::vector<char*> blocks;
  for (size_t size : {size_t{8}, size_t{100}, size_t{4096}, size_t{6000}}) {
    char* block = static_cast<char*>(tally_malloc(size));
    ASSERT_NE(block, nullptr);
    ASSERT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(block)), kRegistryGuarded);
    uintptr_t first_page = reinterpret_cast<uintptr_t>(block) & ~uintptr_t{4095};
    EXPECT_FALSE(read_faults(block)) << when << ", " << size;
    EXPECT_FALSE(read_faults(reinterpret_cast<char*>(first_page))) << when << ", " << size;
    EXPECT_TRUE(read_faults(reinterpret_cast<char*>(first_page - 1))) << when << ", " << size;
    EXPECT_TRUE(read_faults(reinterpret_cast<char*>(first_page - 4096))) << when << ", " << size;
    blocks.push_back(block);
  }
  for (char* block : blocks) tally_free(block);
}

TEST(GuardPool, TheSlotsPagesBeforeABlockFault) {
  if (!guard_pool_uses_markers()) GTEST_SKIP() << "the kernel has no guard markers";
  NoTimeBudget no_budget;
  expect_pages_before_blocks_fault("slots used for the first time");
  // Every slot used once: the next blocks take slots whose free left all their data
  // inaccessible.
  std::vector<void*> all;
  for (size_t i = 0; i < g_safety.guard_pool_slots; ++i) all.push_back(tally_malloc(16));
  for (void* block : all) tally_free(block);
  expect_pages_before_blocks_fault("slots used before");
}

// Mappings inside the pool, from /proc/self/maps.
size_t pool_mappings() {
  FILE* maps = fopen("/proc/self/maps", "r");
  if (!maps) return 0;
  size_t count = 0;
  unsigned long start, end;
  char line[512];
  while (fgets(line, sizeof line, maps)) {
    if (sscanf(line, "%lx-%lx", &start, &end) == 2 && guard_pool_contains(start)) ++count;
  }
  fclose(maps);
  return count;
}

// A slot becomes a mapping of its own at its first use, not before: the pool's thousands
// of slots must not all be mappings from the start, or every fork() of a short program
// copies them (a fork took 12 ms in debug mode, against 1 ms in fast mode).
TEST(GuardPool, OnlySlotsInUseAreMappingsOfTheirOwn) {
  size_t used = guard_pool_stats().slots_used;
  ASSERT_LT(used + 8, g_safety.guard_pool_slots) << "the test needs slots never used";
  EXPECT_LE(pool_mappings(), 2 * used + 3);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(tally_malloc(48));
  size_t now_used = guard_pool_stats().slots_used;
  EXPECT_GT(now_used, used);
  EXPECT_LE(pool_mappings(), 2 * now_used + 3);
  for (void* block : blocks) tally_free(block);
}

// With the kernel's guard markers the pool stays a mapping or two however many slots are
// in use or freed (with mprotect each slot in use is two): forks and execs of a program
// with thousands of guarded blocks copy and tear down no more mappings than without them.
TEST(GuardPool, WithGuardMarkersThePoolStaysOneMapping) {
  if (!g_safety.guard_markers) GTEST_SKIP() << "guard_markers=0: the mprotect pool";
  NoTimeBudget no_budget;
  std::vector<char*> blocks;
  for (int i = 0; i < 300; ++i) blocks.push_back(static_cast<char*>(tally_malloc(40 + i)));
  for (size_t i = 0; i < blocks.size(); i += 2) tally_free(blocks[i]);
  if (!guard_pool_uses_markers()) GTEST_SKIP() << "this kernel has no guard markers (6.13+)";
  EXPECT_LE(pool_mappings(), 2u);
  // Still guarded: the page past a live block and a freed block fault.
  uintptr_t end = reinterpret_cast<uintptr_t>(blocks[1]) + 41;
  EXPECT_TRUE(read_faults(reinterpret_cast<char*>((end + 4095) & ~uintptr_t{4095})));
  EXPECT_TRUE(read_faults(blocks[0] + 3));
  for (size_t i = 1; i < blocks.size(); i += 2) tally_free(blocks[i]);
  EXPECT_TRUE(read_faults(blocks[1] + 3));
  // And a reused slot is accessible again.
  char* reused = static_cast<char*>(tally_malloc(64));
  EXPECT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(reused)), kRegistryGuarded);
  reused[0] = 1;
  reused[63] = 2;
  EXPECT_FALSE(read_faults(reused + 63));
  tally_free(reused);
}

TEST(GuardPool, LargerBlocksAndAlignmentsStayOutOfThePool) {
  void* big = tally_malloc(g_safety.guard_max_size + 1);
  EXPECT_NE(registry_lookup(reinterpret_cast<uintptr_t>(big)), kRegistryGuarded);
  tally_free(big);
  void* aligned = tally_aligned_alloc(8192, 100);
  EXPECT_NE(registry_lookup(reinterpret_cast<uintptr_t>(aligned)), kRegistryGuarded);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 8192, 0u);
  tally_free(aligned);
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

uint64_t MonotonicNanoseconds() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
}

// Two threads allocate and free small blocks as fast as they can, for 300 ms, with the
// protection calls allowed 1% of the time: the pool must turn allocations away, keep the
// time in mprotect near that share (plus the 20 ms the bucket starts with), and still guard
// some blocks.
TEST(GuardPool, ProtectionTimeIsBudgeted) {
  protection_budget_set_time_percent(1);
  GuardPoolStats before = guard_pool_stats();
  ProtectionBudgetStats budget_before = protection_budget_stats();
  uint64_t started = MonotonicNanoseconds();
  std::atomic<bool> stop{false};
  auto churn = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      void* blocks[16];
      for (void*& block : blocks) block = tally_malloc(48);
      for (void* block : blocks) tally_free(block);
    }
  };
  std::thread first(churn), second(churn);
  timespec pause{0, 300 * 1000 * 1000};
  nanosleep(&pause, nullptr);
  stop.store(true);
  first.join();
  second.join();
  uint64_t elapsed = MonotonicNanoseconds() - started;
  GuardPoolStats after = guard_pool_stats();
  ProtectionBudgetStats budget_after = protection_budget_stats();
  protection_budget_set_time_percent(g_safety.guard_time_percent);
  // The calls as measured plus the refaults as estimated: what the budget bounds.
  uint64_t spent = budget_after.call_nanoseconds + budget_after.refault_nanoseconds -
                   budget_before.call_nanoseconds - budget_before.refault_nanoseconds;
  EXPECT_GT(after.guarded, before.guarded);
  EXPECT_GT(after.refused_for_time, before.refused_for_time);
  // 1% of the time, the 20 ms banked at the start, and the frees of blocks guarded before
  // the bucket ran dry (charged after the fact). Calls are charged their wall time, so on a
  // loaded machine a call preempted midway charges the wait too: under `make test` -j2 the
  // total once reached 43 ms of 307 (14%), over an earlier bound of 6% + 20 ms, and in a
  // fresh-clone CI run 62 ms of about 300 (a bound of an eighth more). Without the budget
  // nearly every allocation here is guarded, the share is most of the time, and
  // refused_for_time above fails outright; a quarter bounds the budget's overshoot.
  EXPECT_LT(spent, elapsed / 100 + 20000000 + elapsed / 4)
      << spent / 1000000 << " ms of protection work over " << elapsed / 1000000 << " ms";
}

// The per-page refault cost is measured only once protections have drawn the bucket down
// to half: a short program (every command of a shell script) guards a block or two and
// must not pay the measurement's faults and mprotect calls.
TEST(ProtectionBudget, TheRefaultCostIsMeasuredOnlyWhenTheBudgetMatters) {
  protection_budget_set_time_percent(10);  // a full bucket
  for (int i = 0; i < 3; ++i) tally_free(tally_malloc(100));
  ProtectionBudgetStats early = protection_budget_stats();
  EXPECT_FALSE(early.refault_cost_measured);
  EXPECT_GT(early.refault_cost_per_page, 0u);  // the unmeasured estimate still charges
  protection_budget_charge(monotonic_nanoseconds() - 15 * 1000 * 1000, 0);
  EXPECT_TRUE(protection_budget_allows());
  EXPECT_TRUE(protection_budget_stats().refault_cost_measured);
  protection_budget_set_time_percent(g_safety.guard_time_percent);
}

// Guard markers drop the pages they cover, so a guarded block's pages fault in anew when
// its slot is used again: a fault that allocates and clears a page, 8.5-11 us on this
// virtual machine against 3.4 us for a refault. Charged as refaults, guarded blocks took
// 16% of larson's time in debug mode under a 10% budget.
TEST(ProtectionBudget, AGuardedBlocksPagesAreChargedAsTheirSlotDropsThem) {
  protection_budget_set_time_percent(10);
  protection_budget_charge(monotonic_nanoseconds() - 15 * 1000 * 1000, 0);  // measure now
  protection_budget_allows();
  ASSERT_TRUE(protection_budget_stats().refault_cost_measured);
  protection_budget_set_time_percent(10);  // a full bucket again
  for (int round = 0; round < 3; ++round) {
    ProtectionBudgetStats before = protection_budget_stats();
    void* block = tally_malloc(100);  // one page
    ASSERT_NE(block, nullptr);
    ProtectionBudgetStats after = protection_budget_stats();
    ASSERT_EQ(registry_lookup(reinterpret_cast<uintptr_t>(block)), kRegistryGuarded);
    uint64_t per_page =
        guard_pool_uses_markers() ? after.dropped_cost_per_page : after.refault_cost_per_page;
    EXPECT_EQ(after.refault_nanoseconds - before.refault_nanoseconds, per_page)
        << "round " << round << (guard_pool_uses_markers() ? ", markers" : ", mprotect");
    tally_free(block);
  }
  protection_budget_set_time_percent(g_safety.guard_time_percent);
}

// The budget covers freed large blocks too: within it their pages become inaccessible;
// once it is spent they are poisoned instead (a write after free is still caught when
// they leave the quarantine), and guarded allocations are refused.
TEST(ProtectionBudget, PastItLargeBlocksArePoisonedAndSmallOnesUnguarded) {
  ASSERT_TRUE(g_safety.protect_large) << "run with TALLY_OPTIONS=mode=debug";
  protection_budget_set_time_percent(10);  // a full bucket
  const size_t size = 1 << 20;
  char* protected_block = static_cast<char*>(tally_malloc(size));
  ASSERT_NE(protected_block, nullptr);
  memset(protected_block, 1, size);
  tally_free(protected_block);
  EXPECT_TRUE(read_faults(protected_block + size / 2));
  EXPECT_GT(protection_budget_stats().refault_cost_per_page, 0u);

  // A second's worth of protection work, charged at once, empties the bucket.
  ProtectionBudgetStats before = protection_budget_stats();
  protection_budget_charge(monotonic_nanoseconds() - 1000000000ull, 0);
  char* poisoned_block = static_cast<char*>(tally_malloc(size));
  ASSERT_NE(poisoned_block, nullptr);
  memset(poisoned_block, 1, size);
  tally_free(poisoned_block);
  EXPECT_FALSE(read_faults(poisoned_block + size / 2));
  // Poisoned over its first 64 KiB (large_poison_max_bytes), the rest left as it was.
  EXPECT_EQ(static_cast<unsigned char>(poisoned_block[1000]), kPoisonByte);
  EXPECT_EQ(static_cast<unsigned char>(poisoned_block[(64 << 10) - 1]), kPoisonByte);
  EXPECT_EQ(poisoned_block[64 << 10], 1);
  EXPECT_EQ(poisoned_block[size / 2], 1);
  void* unguarded = tally_malloc(32);
  EXPECT_NE(registry_lookup(reinterpret_cast<uintptr_t>(unguarded)), kRegistryGuarded);
  tally_free(unguarded);
  EXPECT_GE(protection_budget_stats().refusals, before.refusals + 2);
  protection_budget_set_time_percent(g_safety.guard_time_percent);
}

}  // namespace
}  // namespace tally
