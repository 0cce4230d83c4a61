// Mismatched deallocation, aligned new / plain delete: a lane buffer is allocated with
// operator new(size, align_val_t{64}) and released with the unaligned operator delete.
// ASan reports this pair as new-delete-type-mismatch (alignment of the allocated type:
// 64 bytes; of the deallocated type: default); tally calls it alloc-dealloc-mismatch.
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// ASAN-EXPECT-KIND: new-delete-type-mismatch
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: release_lane
// TALLY-EXPECT-ALLOC-FRAME: allocate_lane
#include <cstddef>
#include <cstdint>
#include <new>

#include "tally_test.h"

namespace {

constexpr std::size_t kLaneBytes = 192;
constexpr std::align_val_t kCacheLine{64};

TT_NOINLINE void* allocate_lane() {
  void* lane = ::operator new(kLaneBytes, kCacheLine);
  TT_CHECK(reinterpret_cast<std::uintptr_t>(lane) % 64 == 0);
  return lane;
}

TT_NOINLINE void release_lane(void* lane) {
  tt_note_bad_free(lane, lane, kLaneBytes);
  ::operator delete(lane);  // should be ::operator delete(lane, kCacheLine)
}

}  // namespace

int main() {
  void* lane = allocate_lane();
  static_cast<unsigned char*>(lane)[0] = 1;
  release_lane(lane);
  tt_survived();
  return 0;
}
