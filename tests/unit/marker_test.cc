// The marker on synthetic heaps, without stopping the world (this test is the only thread
// touching the heap while it marks): reachability from explicit roots, chains through
// blocks, cycles, interior pointers on and off, mark stack overflow, blocks that hold no
// pointers, large blocks, several workers, and the direct/indirect classification.
#include "mark/marker.h"

#include <gtest/gtest.h>

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
