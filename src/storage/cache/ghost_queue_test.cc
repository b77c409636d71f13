#include "storage/cache/ghost_queue.h"

#include <deque>
#include <map>
#include <random>
#include <utility>

#include <gtest/gtest.h>

namespace skeg::storage::cache_internal {
namespace {

// Against a plain deque: membership is "the key is among the last `max` pushed", under a key
// mix that repeats keys inside the window (counts > 1), collides in the table, and removes
// from the middle of probe runs.
TEST(GhostQueueTest, MatchesAReferenceFifo) {
  for (size_t max : {1u, 2u, 7u, 64u, 1000u}) {
    SCOPED_TRACE(max);
    GhostQueue q(max);
    std::deque<Key> ref;
    std::map<std::pair<uint64_t, uint64_t>, int> count;  // occurrences in `ref`
    std::mt19937_64 rng(max);
    for (int step = 0; step < 20000; ++step) {
      const Key k{rng() % 3, rng() % (2 * max + 3)};
      q.Push(k);
      ref.push_back(k);
      ++count[{k.file, k.page}];
      if (ref.size() > max) {
        --count[{ref.front().file, ref.front().page}];
        ref.pop_front();
      }
      ASSERT_EQ(q.size(), ref.size());
      if (step % 31 == 0) {
        for (uint64_t f = 0; f < 3; ++f) {
          for (uint64_t p = 0; p < 2 * max + 3; ++p) {
            const bool in_ref = count[{f, p}] > 0;
            ASSERT_EQ(q.Contains(Key{f, p}), in_ref) << "step " << step << " key " << f << ":" << p;
          }
        }
      }
    }
  }
}

TEST(GhostQueueTest, ZeroCapacityHoldsNothing) {
  GhostQueue q(0);
  q.Push(Key{1, 2});
  EXPECT_FALSE(q.Contains(Key{1, 2}));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.MemoryUsage(), 0u);
}

TEST(GhostQueueTest, MemoryIsWhatTheHeaderCharges) {
  GhostQueue q(1000);
  // 16-byte ring entries and 1.5 slots of 24 bytes per key (+1 slot): PageCache::kGhostBytes.
  EXPECT_LE(q.MemoryUsage(), 1000 * 52u + 24u);
  EXPECT_GE(q.MemoryUsage(), 1000 * 52u);
}

}  // namespace
}  // namespace skeg::storage::cache_internal
