// The marker on synthetic heaps, without stopping the world (this test is the only thread
// touching the heap while it marks): reachability from explicit roots, chains through
// blocks, cycles, interior pointers on and off, mark stack overflow, blocks that hold no
// pointers, large blocks, several workers, and the direct/indirect classification.
#include "mark/marker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "tally.h"

namespace tally {
namespace {

struct Node {
  Node* next;
  uintptr_t payload[3];
};

Node* make_list(size_t count) {
  Node* head = nullptr;
  for (size_t i = 0; i < count; ++i) {
    Node* node = static_cast<Node*>(tally_malloc(sizeof(Node)));
    node->next = head;
    node->payload[0] = node->payload[1] = node->payload[2] = 0;
    head = node;
  }
  return head;
}

void free_list(Node* head) {
  while (head) {
    Node* next = head->next;
    tally_free(head);
    head = next;
  }
}

bool marked(const void* block) {
  MarkBlock found;
  EXPECT_TRUE(marker_find_block(reinterpret_cast<uintptr_t>(block), &found));
  return found.marked;
}

// One mark from `roots` (an array of words, which is the only root).
MarkStatistics mark_from(const void* roots, size_t bytes, MarkSettings settings = MarkSettings()) {
  EXPECT_TRUE(marker_begin(settings));
  uintptr_t start = reinterpret_cast<uintptr_t>(roots);
  marker_add_root(start, start + bytes);
  MarkStatistics statistics{};
  marker_run(&statistics);
  return statistics;
}

TEST(Marker, MarksWhatTheRootsReachAndNothingElse) {
  Node* reachable = make_list(50);
  Node* unreachable = make_list(20);
  void* roots[1] = {reachable};
  MarkStatistics statistics = mark_from(roots, sizeof roots);
  for (Node* node = reachable; node; node = node->next) EXPECT_TRUE(marked(node));
  for (Node* node = unreachable; node; node = node->next) EXPECT_FALSE(marked(node));
  EXPECT_GE(statistics.blocks_marked, 50u);
  EXPECT_EQ(statistics.root_ranges, 1u);
  EXPECT_EQ(statistics.root_bytes, sizeof roots);
  EXPECT_GE(statistics.bytes_scanned, 50 * sizeof(Node));
  free_list(reachable);
  free_list(unreachable);
}

TEST(Marker, CyclesAreMarkedOnceAndUnreachableCyclesNotAtAll) {
  Node* ring = make_list(5);
  Node* last = ring;
  while (last->next) last = last->next;
  last->next = ring;  // a cycle
  Node* lost_ring = make_list(4);
  Node* lost_last = lost_ring;
  while (lost_last->next) lost_last = lost_last->next;
  lost_last->next = lost_ring;
  void* roots[1] = {ring->next->next};  // any member reaches all
  MarkStatistics statistics = mark_from(roots, sizeof roots);
  Node* node = ring;
  for (int i = 0; i < 5; ++i, node = node->next) EXPECT_TRUE(marked(node));
  node = lost_ring;
  for (int i = 0; i < 4; ++i, node = node->next) EXPECT_FALSE(marked(node));
  EXPECT_EQ(statistics.blocks_marked, 5u);
  last->next = nullptr;
  lost_last->next = nullptr;
  free_list(ring);
  free_list(lost_ring);
}

TEST(Marker, InteriorPointersCountUnlessTurnedOffForHeapWords) {
  char* target = static_cast<char*>(tally_malloc(64));
  char* root_target = static_cast<char*>(tally_malloc(64));
  void** holder = static_cast<void**>(tally_malloc(16));
  holder[0] = target + 24;  // inside the block, from the heap
  holder[1] = nullptr;
  void* roots[2] = {holder, root_target + 40};  // the second: inside, from a root

  mark_from(roots, sizeof roots);
  EXPECT_TRUE(marked(target));
  EXPECT_TRUE(marked(root_target));

  MarkSettings exact;
  exact.interior_pointers = false;
  mark_from(roots, sizeof roots, exact);
  EXPECT_TRUE(marked(holder));
  EXPECT_FALSE(marked(target)) << "a heap word pointing inside must not count";
  EXPECT_TRUE(marked(root_target)) << "roots may always point inside";
  tally_free(target);
  tally_free(root_target);
  tally_free(holder);
}

TEST(Marker, AFullMarkStackLosesNothing) {
  // A tree wide enough that a 4-entry stack overflows over and over.
  std::vector<Node*> leaves;
  Node** fanout = static_cast<Node**>(tally_malloc(256 * sizeof(Node*)));
  for (int i = 0; i < 256; ++i) {
    fanout[i] = make_list(8);
    leaves.push_back(fanout[i]);
  }
  void* roots[1] = {fanout};
  MarkSettings tiny;
  tiny.stack_entries = 4;
  MarkStatistics statistics = mark_from(roots, sizeof roots, tiny);
  EXPECT_GT(statistics.overflow_passes, 0u) << "the test did not overflow the stack";
  for (Node* list : leaves)
    for (Node* node = list; node; node = node->next) ASSERT_TRUE(marked(node));
  for (Node* list : leaves) free_list(list);
  tally_free(fanout);
}

TEST(Marker, BlocksWithoutPointersAreNotScanned) {
  Node* payload = make_list(1);
  void** atomic = static_cast<void**>(tally_malloc_atomic(64));
  atomic[0] = payload;  // looks like a pointer, must not count
  void** large_atomic = static_cast<void**>(tally_malloc_atomic(1 << 20));
  Node* large_payload = make_list(1);
  large_atomic[1000] = large_payload;
  void* roots[2] = {atomic, large_atomic};
  mark_from(roots, sizeof roots);
  EXPECT_TRUE(marked(atomic));
  EXPECT_TRUE(marked(large_atomic));
  EXPECT_FALSE(marked(payload));
  EXPECT_FALSE(marked(large_payload));
  tally_free(atomic);
  tally_free(large_atomic);
  free_list(payload);
  free_list(large_payload);
}

TEST(Marker, LargeBlocksAreScannedToTheirEnd) {
  void** big = static_cast<void**>(tally_calloc(1, 8 << 20));
  Node* near_end = make_list(3);
  big[(8 << 20) / sizeof(void*) - 1] = near_end;  // in the last word
  void* roots[1] = {big};
  mark_from(roots, sizeof roots);
  for (Node* node = near_end; node; node = node->next) EXPECT_TRUE(marked(node));
  free_list(near_end);
  tally_free(big);
}

TEST(Marker, SeveralWorkersMarkTheSame) {
  marker_prepare_helpers(3);
  Node** heads = static_cast<Node**>(tally_malloc(64 * sizeof(Node*)));
  for (int i = 0; i < 64; ++i) heads[i] = make_list(2000);
  void* roots[1] = {heads};
  MarkSettings parallel;
  parallel.workers = 3;
  MarkStatistics statistics = mark_from(roots, sizeof roots, parallel);
  EXPECT_EQ(statistics.workers, 3);
  EXPECT_EQ(statistics.blocks_marked, 64u * 2000u + 1u);
  for (int i = 0; i < 64; ++i)
    for (Node* node = heads[i]; node; node = node->next) ASSERT_TRUE(marked(node));
  for (int i = 0; i < 64; ++i) free_list(heads[i]);
  tally_free(heads);
}

// Lists over many segments, linked in every direction the sweep meets: each node pointing
// at the one allocated before it (down in memory, what the sweep follows in one pass), at
// the one after it (up: the sweep hands those to the mark stack), and lists interleaved so
// that every step jumps far and crosses segments.
std::vector<Node*> build_lists(int lists, int per_list, bool point_up, bool interleaved) {
  std::vector<Node*> heads(lists, nullptr), tails(lists, nullptr);
  for (int i = 0; i < lists * per_list; ++i) {
    int list = interleaved ? i % lists : i / per_list;
    Node* node = static_cast<Node*>(tally_malloc(sizeof(Node)));
    node->next = nullptr;
    node->payload[0] = node->payload[1] = node->payload[2] = 0;
    if (!point_up) {
      node->next = heads[list];
      heads[list] = node;
    } else {
      (tails[list] ? tails[list]->next : heads[list]) = node;
      tails[list] = node;
    }
  }
  return heads;
}

TEST(Marker, TheSweepMarksListsLinkedInEveryDirectionAcrossSegments) {
  marker_prepare_helpers(3);
  constexpr int kLists = 64, kPerList = 8000;  // 512,000 blocks: about 6 segments
  for (bool point_up : {false, true}) {
    for (bool interleaved : {false, true}) {
      std::vector<Node*> heads = build_lists(kLists, kPerList, point_up, interleaved);
      for (int workers : {1, 3}) {
        MarkSettings settings;
        settings.workers = workers;
        MarkStatistics statistics = mark_from(heads.data(), heads.size() * sizeof(Node*), settings);
        SCOPED_TRACE(testing::Message() << "up " << point_up << " interleaved " << interleaved
                                        << " workers " << workers);
        EXPECT_GT(statistics.segment_sweeps, 0u);
        EXPECT_GE(statistics.blocks_marked, uint64_t{kLists} * kPerList);
        for (Node* head : heads)
          for (Node* node = head; node; node = node->next) ASSERT_TRUE(marked(node));
      }
      for (Node* head : heads) free_list(head);
    }
  }
}

// Lists whose nodes were allocated in turn: each step of a list jumps two slots down, so the
// slots below the one being swept are all reached already and a second worker can sweep
// them alongside the first. Also with slots taken before they are ready, where a block is
// left pending in a slot just as the other worker's sweep passes it: it must be found.
TEST(Marker, IdleWorkersSweepAWideWavefrontAlongsideTheSweeper) {
  marker_prepare_helpers(3);
  constexpr int kLists = 4096, kPerList = 300;  // 1.2 million 32-byte nodes: 10 segments
  std::vector<Node*> heads = build_lists(kLists, kPerList, false, true);
  // The races are rare even with unready slots taken: several marks give them chances.
  // How many slots the helpers take depends on when the scheduler runs them (a loaded
  // machine may give them little time in one mark), so the test asks for some in all.
  uint64_t shared_slots = 0;
  for (int round = 0; round < 6; ++round) {
    bool unready = round > 0;
    for (int workers : {1, 2, 3}) {
      if (unready && workers == 1) continue;
      MarkSettings settings;
      settings.workers = workers;
      settings.sweep_unready_slots = unready;
      MarkStatistics statistics = mark_from(heads.data(), heads.size() * sizeof(Node*), settings);
      SCOPED_TRACE(testing::Message() << "round " << round << " workers " << workers);
      if (workers == 1)
        EXPECT_EQ(statistics.shared_slots, 0u);
      else
        shared_slots += statistics.shared_slots;
      EXPECT_GE(statistics.blocks_marked, uint64_t{kLists} * kPerList);
      for (Node* head : heads)
        for (Node* node = head; node; node = node->next) ASSERT_TRUE(marked(node));
    }
  }
  EXPECT_GT(shared_slots, 0u);
  for (Node* head : heads) free_list(head);
}

// One list allocated in order is found block by block: the slot below the one being swept
// holds nothing reached yet, and a second worker must leave it to the sweeper.
TEST(Marker, AListFoundBlockByBlockIsNotSweptAlongside) {
  marker_prepare_helpers(2);
  Node* head = make_list(400000);  // 12.8 MB: 3 segments
  // The test needs the list to point down in memory, as a fresh heap lays it out.
  size_t upward = 0;
  for (Node* node = head; node->next; node = node->next) upward += node->next > node;
  if (upward > 100) GTEST_SKIP() << upward << " links point up: the heap is not fresh";
  MarkSettings settings;
  settings.workers = 2;
  MarkStatistics statistics = mark_from(&head, sizeof head, settings);
  EXPECT_EQ(statistics.shared_slots, 0u);
  EXPECT_EQ(statistics.passed_pending_blocks, 0u);
  for (Node* node = head; node; node = node->next) ASSERT_TRUE(marked(node));
  free_list(head);
}

TEST(Marker, AChainBetweenTwoThreadsHeapsIsSweptOncePerSegment) {
  // Nodes from two threads' heaps (segments of their own), linked alternately: without a
  // bound on sweeps, every step would sweep a whole segment again for one block.
  constexpr int kPerThread = 100000;
  std::vector<Node*> halves[2];
  for (auto& half : halves) {
    std::thread filler([&half] {
      for (int i = 0; i < kPerThread; ++i) {
        Node* node = static_cast<Node*>(tally_calloc(1, sizeof(Node)));
        half.push_back(node);
      }
    });
    filler.join();
  }
  Node* head = nullptr;
  std::set<uintptr_t> segments;
  for (int i = kPerThread; i-- > 0;) {
    for (auto& half : halves) {
      half[i]->next = head;
      head = half[i];
      segments.insert(reinterpret_cast<uintptr_t>(head) >> 22);
    }
  }
  void* roots[1] = {head};
  MarkStatistics statistics = mark_from(roots, sizeof roots);  // one worker: no races
  EXPECT_LE(statistics.segment_sweeps, segments.size());
  EXPECT_EQ(statistics.blocks_marked, 2u * kPerThread);
  for (Node* node = head; node; node = node->next) ASSERT_TRUE(marked(node));
  free_list(head);
}

// A random graph of blocks of one size: pointers up and down in memory, within a page and
// across pages, to a block's start or (interior) to any byte inside it, in any word of a
// block including its last, among words that are zero or numbers that are no pointer. The
// marker must mark exactly what a plain search from the roots reaches. Every size up to
// 128 bytes has a sweep compiled for it, and the sizes above share one.
struct RandomHeap {
  std::vector<uintptr_t*> blocks;
  size_t words = 0;  // the words of a block the graph uses (its requested size)
};

RandomHeap build_random_heap(size_t block_bytes, size_t count, std::mt19937_64& random) {
  RandomHeap heap;
  heap.words = block_bytes / sizeof(uintptr_t);
  for (size_t i = 0; i < count; ++i)
    heap.blocks.push_back(static_cast<uintptr_t*>(tally_malloc(block_bytes)));
  // The sweep to test is the one for this size (a sampled guarded block may differ).
  size_t of_the_size = 0;
  for (uintptr_t* block : heap.blocks) {
    MarkBlock found;
    if (marker_find_block(reinterpret_cast<uintptr_t>(block), &found) && found.span == block_bytes)
      ++of_the_size;
  }
  EXPECT_GE(of_the_size, count * 9 / 10);
  // Allocation order is mostly address order; the graph's edges go both ways regardless.
  for (uintptr_t* block : heap.blocks) {
    for (size_t w = 0; w < heap.words; ++w) {
      // About two pointers a block (fewer in 16-byte ones), half to a block's start.
      uint64_t kind = random() % 100, pointer_percent = std::min<uint64_t>(70, 200 / heap.words);
      if (kind < pointer_percent) {
        size_t target = random() % count;
        size_t offset = random() % 2 ? 0 : random() % block_bytes;
        block[w] = reinterpret_cast<uintptr_t>(heap.blocks[target]) + offset;
      } else if (kind < pointer_percent + (100 - pointer_percent) / 2) {
        block[w] = random() | (uint64_t{1} << 63);  // a number, never in the heap's range
      } else {
        block[w] = 0;
      }
    }
  }
  return heap;
}

// The blocks reached from `roots` (block indices), following heap words by their target
// block; with `interior` false only words pointing at a block's start count.
std::vector<bool> reachable_blocks(const RandomHeap& heap, const std::vector<size_t>& roots,
                                   bool interior) {
  std::vector<std::pair<uintptr_t, size_t>> by_address;
  for (size_t i = 0; i < heap.blocks.size(); ++i)
    by_address.emplace_back(reinterpret_cast<uintptr_t>(heap.blocks[i]), i);
  std::sort(by_address.begin(), by_address.end());
  size_t block_bytes = heap.words * sizeof(uintptr_t);
  auto block_of = [&](uintptr_t word) -> long {
    auto after =
        std::upper_bound(by_address.begin(), by_address.end(), std::make_pair(word, SIZE_MAX));
    if (after == by_address.begin()) return -1;
    --after;
    if (word - after->first >= block_bytes) return -1;
    if (!interior && word != after->first) return -1;
    return static_cast<long>(after->second);
  };
  std::vector<bool> reached(heap.blocks.size(), false);
  std::vector<size_t> work(roots);
  for (size_t root : roots) reached[root] = true;
  while (!work.empty()) {
    size_t block = work.back();
    work.pop_back();
    for (size_t w = 0; w < heap.words; ++w) {
      long target = block_of(heap.blocks[block][w]);
      if (target >= 0 && !reached[target]) {
        reached[target] = true;
        work.push_back(static_cast<size_t>(target));
      }
    }
  }
  return reached;
}

TEST(Marker, EveryBlockSizeMarksExactlyWhatARandomGraphReaches) {
  marker_prepare_helpers(2);
  std::mt19937_64 random(20261206);
  for (size_t block_bytes : {16, 32, 48, 64, 80, 96, 112, 128, 160, 256, 640}) {
    RandomHeap heap = build_random_heap(block_bytes, 6000, random);
    std::vector<size_t> roots;
    std::vector<void*> root_words;
    for (int i = 0; i < 8; ++i) {
      roots.push_back(random() % heap.blocks.size());
      root_words.push_back(heap.blocks[roots.back()]);
    }
    for (bool interior : {true, false}) {
      std::vector<bool> expected = reachable_blocks(heap, roots, interior);
      size_t expected_count =
          static_cast<size_t>(std::count(expected.begin(), expected.end(), true));
      // One worker; two; two racing for every slot (taken before they are ready).
      for (int variant : {1, 2, 3}) {
        int workers = variant > 1 ? 2 : 1;
        bool unready = variant == 3;
        SCOPED_TRACE(testing::Message() << block_bytes << "-byte blocks, interior " << interior
                                        << ", workers " << workers << ", unready " << unready);
        MarkSettings settings;
        settings.interior_pointers = interior;
        settings.workers = workers;
        settings.sweep_unready_slots = unready;
        MarkStatistics statistics =
            mark_from(root_words.data(), root_words.size() * sizeof(void*), settings);
        // Two workers may both take a block they reach at once (the marks are plain
        // stores): the mark is the same, the count may be higher.
        if (workers == 1)
          EXPECT_EQ(statistics.blocks_marked, expected_count);
        else
          EXPECT_GE(statistics.blocks_marked, expected_count);
        size_t wrong = 0;
        for (size_t i = 0; i < heap.blocks.size(); ++i)
          if (marked(heap.blocks[i]) != expected[i]) ++wrong;
        EXPECT_EQ(wrong, 0u) << "of " << expected_count << " reachable";
      }
    }
    for (uintptr_t* block : heap.blocks) tally_free(block);
  }
}

TEST(Marker, ClassifiesDirectAndIndirectLeaks) {
  Node* lost_list = make_list(6);  // head direct, 5 indirect
  Node* kept = make_list(2);
  void* roots[1] = {kept};
  mark_from(roots, sizeof roots);
  marker_flood_indirect();
  struct Tally {
    Node* head;
    int direct = 0;
    int indirect = 0;
    int head_seen = 0;
  } tally{lost_list};
  // Other unmarked blocks of the process (this test's framework uses the C library's
  // malloc, so there should be none) are counted only when they are ours.
  std::vector<uintptr_t> ours;
  for (Node* node = lost_list; node; node = node->next)
    ours.push_back(reinterpret_cast<uintptr_t>(node));
  struct Context {
    Tally* tally;
    std::vector<uintptr_t>* ours;
  } context{&tally, &ours};
  marker_for_each_unmarked(
      [](const MarkBlock& block, void* raw) {
        Context* context = static_cast<Context*>(raw);
        bool mine = false;
        for (uintptr_t address : *context->ours) mine = mine || address == block.start;
        if (!mine) return;
        if (block.indirect) {
          ++context->tally->indirect;
        } else {
          ++context->tally->direct;
          context->tally->head_seen +=
              block.start == reinterpret_cast<uintptr_t>(context->tally->head);
        }
      },
      &context);
  EXPECT_EQ(tally.direct, 1);
  EXPECT_EQ(tally.head_seen, 1);
  EXPECT_EQ(tally.indirect, 5);
  free_list(lost_list);
  free_list(kept);
}

}  // namespace
}  // namespace tally
