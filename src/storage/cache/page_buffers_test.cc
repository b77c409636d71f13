#include "storage/cache/page_buffers.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/cache/page_cache.h"

namespace skeg::storage {
namespace {

constexpr size_t kPerChunk = PageBuffers::kChunkBytes / PageBuffers::kBufferBytes;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSeparate = true;  // each buffer its own allocation under ASan
#else
constexpr bool kSeparate = false;
#endif

TEST(PageBuffersTest, BuffersAreAlignedDistinctWritableAndReused) {
  PageBuffers pool;
  std::vector<char*> got;
  std::set<char*> distinct;
  for (size_t i = 0; i < kPerChunk + 3; ++i) {  // more than one chunk
    char* b = pool.Allocate();
    ASSERT_EQ(reinterpret_cast<uintptr_t>(b) % PageBuffers::kBufferBytes, 0u);
    std::memset(b, static_cast<int>(i), PageBuffers::kBufferBytes);  // whole buffer writable
    got.push_back(b);
    distinct.insert(b);
  }
  EXPECT_EQ(distinct.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i][0], static_cast<char>(i));  // no buffer overlaps another
    ASSERT_EQ(got[i][PageBuffers::kBufferBytes - 1], static_cast<char>(i));
  }
  PageBuffers::Stats s = pool.stats();
  EXPECT_EQ(s.live_buffers, got.size());
  if (!kSeparate) {
    EXPECT_EQ(s.mapped_bytes, 2 * PageBuffers::kChunkBytes);
    EXPECT_EQ(s.free_bytes, (2 * kPerChunk - got.size()) * PageBuffers::kBufferBytes);
    // Chunks are 2 MiB-aligned (a huge page needs it): the first buffer of each is.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got[0]) % PageBuffers::kChunkBytes, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got[kPerChunk]) % PageBuffers::kChunkBytes, 0u);
  }
  // Freed buffers are reused before any new chunk is mapped.
  for (char* b : got) pool.Free(b);
  pool.Free(nullptr);
  s = pool.stats();
  EXPECT_EQ(s.live_buffers, 0u);
  std::vector<char*> again;
  for (size_t i = 0; i < got.size(); ++i) again.push_back(pool.Allocate());
  if (!kSeparate) {
    EXPECT_EQ(pool.stats().mapped_bytes, 2 * PageBuffers::kChunkBytes);
    EXPECT_EQ(std::set<char*>(again.begin(), again.end()), distinct);
  }
  for (char* b : again) pool.Free(b);
}

TEST(PageBuffersTest, ConcurrentAllocateAndFreeKeepBuffersExclusive) {
  PageBuffers pool;
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<char*> held;
      for (int round = 0; round < 2000; ++round) {
        char* b = pool.Allocate();
        std::memset(b, t + 1, 64);
        held.push_back(b);
        if (held.size() > 50) {
          for (char* h : held) {
            if (h[0] != t + 1 || h[63] != t + 1) bad.fetch_add(1);
            pool.Free(h);
          }
          held.clear();
        }
      }
      for (char* h : held) pool.Free(h);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(pool.stats().live_buffers, 0u);
}

TEST(PageBuffersTest, CachedPagesComeFromTheGlobalPoolAndReturnToIt) {
  const uint64_t live_before = PageBuffers::Global().stats().live_buffers;
  {
    PageCache cache(64 * (PageCache::kPageSize + PageCache::kEntryOverheadBytes), 1);
    for (uint64_t i = 0; i < 200; ++i) {
      auto page = PageCache::NewPage();
      ASSERT_EQ(reinterpret_cast<uintptr_t>(page->data.get()) % PageCache::kPageSize, 0u);
      page->valid = PageCache::kPageSize;
      cache.Insert(1, i, std::move(page));
    }
    const uint64_t live = PageBuffers::Global().stats().live_buffers - live_before;
    EXPECT_EQ(live, cache.stats().pages);  // evicted pages gave their buffers back
  }
  EXPECT_EQ(PageBuffers::Global().stats().live_buffers, live_before);
}

}  // namespace
}  // namespace skeg::storage
