#include "storage/cache/page_cache.h"

#include <cstring>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

namespace skeg::storage {
namespace {

std::shared_ptr<const PageCache::Page> MakePage(uint64_t tag) {
  auto p = PageCache::NewPage();
  std::memcpy(p->data.get(), &tag, sizeof(tag));
  p->valid = PageCache::kPageSize;
  return p;
}

uint64_t Tag(const std::shared_ptr<const PageCache::Page>& p) {
  uint64_t t;
  std::memcpy(&t, p->data.get(), sizeof(t));
  return t;
}

constexpr size_t kCharge = PageCache::kPageSize + PageCache::kEntryOverheadBytes;

TEST(PageCacheTest, HitsMissesAndContent) {
  PageCache cache(100 * kCharge, 1);
  EXPECT_EQ(cache.Lookup(1, 0), nullptr);
  cache.Insert(1, 0, MakePage(42));
  auto p = cache.Lookup(1, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Tag(p), 42u);
  EXPECT_EQ(cache.Lookup(2, 0), nullptr);  // other file, same page number
  auto s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.pages, 1u);
}

TEST(PageCacheTest, NeverHoldsMoreThanItsCapacity) {
  PageCache cache(64 * kCharge * 4, 4);
  for (uint64_t i = 0; i < 10000; ++i) {
    cache.Insert(7, i, MakePage(i));
    if (i % 3 == 0) cache.Lookup(7, i / 2);
    ASSERT_LE(cache.stats().bytes, cache.capacity_bytes());
  }
  EXPECT_GT(cache.stats().evictions, 0u);
  EXPECT_LE(cache.MemoryUsage(), cache.capacity_bytes() + 64 * 1024);
}

TEST(PageCacheTest, ScanDoesNotFlushTheHotSet) {
  // S3-FIFO: pages hit while in the small queue move to main; a one-pass scan of cold pages
  // only cycles through the small queue.
  PageCache cache(200 * kCharge, 1);
  for (uint64_t i = 0; i < 100; ++i) cache.Insert(1, i, MakePage(i));
  for (int round = 0; round < 2; ++round) {
    for (uint64_t i = 0; i < 100; ++i) ASSERT_NE(cache.Lookup(1, i), nullptr);
  }
  for (uint64_t i = 0; i < 5000; ++i) cache.Insert(2, i, MakePage(i));  // the scan
  int hot_left = 0;
  for (uint64_t i = 0; i < 100; ++i) hot_left += cache.Lookup(1, i) != nullptr;
  EXPECT_GE(hot_left, 95);
}

TEST(PageCacheTest, ReadIfCachedHitsProtectTheHotSetToo) {
  // The value log reads through ReadIfCached (no Page handle): its hits must count for S3-FIFO
  // exactly as Lookup's do.
  PageCache cache(200 * kCharge, 1);
  for (uint64_t i = 0; i < 100; ++i) cache.Insert(1, i, MakePage(i));
  char byte = 0;
  for (int round = 0; round < 2; ++round) {
    for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(cache.ReadIfCached(1, i, 0, 1, &byte));
  }
  for (uint64_t i = 0; i < 5000; ++i) cache.Insert(2, i, MakePage(i));  // the scan
  int hot_left = 0;
  for (uint64_t i = 0; i < 100; ++i) hot_left += cache.ReadIfCached(1, i, 0, 1, &byte);
  EXPECT_GE(hot_left, 95);
  // Without the hits the same scan evicts them all.
  PageCache cold(200 * kCharge, 1);
  for (uint64_t i = 0; i < 100; ++i) cold.Insert(1, i, MakePage(i));
  for (uint64_t i = 0; i < 5000; ++i) cold.Insert(2, i, MakePage(i));
  int cold_left = 0;
  for (uint64_t i = 0; i < 100; ++i) cold_left += cold.ReadIfCached(1, i, 0, 1, &byte);
  EXPECT_LE(cold_left, 5);
}

TEST(PageCacheTest, PrefetchHintsChangeNothing) {
  // Prefetching is a hint for the CPU: no hit, miss or insert is counted, no page is added,
  // and a prefetched page is not protected from eviction as a read one would be.
  PageCache cache(200 * kCharge, 2);
  for (uint64_t i = 0; i < 100; ++i) cache.Insert(1, i, MakePage(i));
  auto partial = PageCache::NewPage();
  partial->valid = 100;
  cache.Insert(2, 0, partial);
  const PageCache::Stats before = cache.stats();
  for (int round = 0; round < 3; ++round) {
    for (uint64_t i = 0; i < 100; ++i) {
      cache.PrefetchSlot(1, i);
      cache.PrefetchBytes(1, i, i * 40, 200);
    }
  }
  cache.PrefetchSlot(9, 9);                                // absent
  cache.PrefetchBytes(9, 9, 0, 64);                        // absent
  cache.PrefetchBytes(2, 0, 50, 100);                      // past the valid bytes
  cache.PrefetchBytes(1, 0, 0, 0);                         // nothing
  cache.PrefetchBytes(1, 0, 0, PageCache::kPageSize);      // the whole page
  cache.PrefetchBytes(1, 1, PageCache::kPageSize - 1, 1);  // its last byte
  const PageCache::Stats after = cache.stats();
  EXPECT_EQ(after.hits, before.hits);
  EXPECT_EQ(after.misses, before.misses);
  EXPECT_EQ(after.inserts, before.inserts);
  EXPECT_EQ(after.evictions, before.evictions);
  EXPECT_EQ(after.pages, before.pages);
  for (uint64_t i = 0; i < 5000; ++i) cache.Insert(3, i, MakePage(i));  // a scan
  char byte = 0;
  int left = 0;
  for (uint64_t i = 0; i < 100; ++i) left += cache.ReadIfCached(1, i, 0, 1, &byte);
  EXPECT_LE(left, 5);  // as in ReadIfCachedHitsProtectTheHotSetToo without the hits
}

TEST(PageCacheTest, GhostHitGoesStraightToMain) {
  PageCache cache(100 * kCharge, 1);
  cache.Insert(1, 0, MakePage(0));
  // Push page 0 out of the small queue without a hit: it becomes a ghost.
  for (uint64_t i = 1; i < 150; ++i) cache.Insert(3, i, MakePage(i));
  EXPECT_EQ(cache.Lookup(1, 0), nullptr);
  cache.Insert(1, 0, MakePage(0));                                       // reinserted into main
  for (uint64_t i = 150; i < 400; ++i) cache.Insert(3, i, MakePage(i));  // cycles small only
  EXPECT_NE(cache.Lookup(1, 0), nullptr);
}

TEST(PageCacheTest, AdmitMainSkipsTheSmallQueue) {
  PageCache cache(100 * kCharge, 1);
  cache.Insert(1, 0, MakePage(0), PageCache::kNoOwner, PageCache::Admit::kMain);
  cache.Insert(1, 1, MakePage(1));  // probation, never hit
  // 1.5x the capacity in new pages of another file, never hit: they push page 1 out of the
  // small queue (as a ghost); page 0 waits in main, which nothing else enters, and stays.
  for (uint64_t i = 0; i < 150; ++i) cache.Insert(3, i, MakePage(i));
  EXPECT_EQ(cache.Lookup(1, 1), nullptr);
  auto p = cache.Lookup(1, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Tag(p), 0u);
  // Replacing a page keeps its place: a kMain re-insert of page 0 and a probation re-insert
  // both leave exactly one copy, the newest.
  cache.Insert(1, 0, MakePage(7));
  cache.Insert(1, 0, MakePage(8), PageCache::kNoOwner, PageCache::Admit::kMain);
  EXPECT_EQ(Tag(cache.Lookup(1, 0)), 8u);
  EXPECT_LE(cache.stats().pages, 100u);
}

TEST(PageCacheTest, EraseFileDropsItsPages) {
  PageCache cache(100 * kCharge, 2);
  for (uint64_t i = 0; i < 10; ++i) {
    cache.Insert(5, i, MakePage(i));
    cache.Insert(6, i, MakePage(i));
  }
  cache.EraseFile(5, 4);
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(cache.Lookup(5, i) != nullptr, i < 4) << i;
    EXPECT_NE(cache.Lookup(6, i), nullptr);
  }
  EXPECT_EQ(cache.stats().pages, 14u);
}

// The shard index (open addressing, backward-shift deletion) against a reference map: pages
// of several files inserted, replaced, erased by file and evicted in random order; whatever
// the cache still holds must be the page last inserted under that key, and ReadIfCached must
// agree with Lookup.
TEST(PageCacheTest, IndexMatchesAReferenceUnderChurn) {
  for (size_t capacity_pages : {size_t{100000}, size_t{300}}) {
    PageCache cache(capacity_pages * kCharge, 1);
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> ref;  // (file, page) -> tag
    std::mt19937_64 rng(capacity_pages);
    uint64_t next_tag = 1;
    for (int op = 0; op < 60000; ++op) {
      const uint64_t file = 1 + rng() % 5;
      const uint64_t page = rng() % 2000;
      const unsigned what = rng() % 100;
      if (what < 60) {
        cache.Insert(file, page, MakePage(next_tag));
        ref[{file, page}] = next_tag++;
      } else if (what < 99) {
        auto p = cache.Lookup(file, page);
        uint64_t via_read = 0;
        const bool read =
            cache.ReadIfCached(file, page, 0, sizeof(via_read), reinterpret_cast<char*>(&via_read));
        ASSERT_EQ(read, p != nullptr);
        if (p == nullptr) {
          // Without evictions nothing inserted may be missing.
          if (capacity_pages == 100000) {
            ASSERT_EQ(ref.count({file, page}), 0u);
          }
          continue;
        }
        auto it = ref.find({file, page});
        ASSERT_NE(it, ref.end());
        ASSERT_EQ(Tag(p), it->second);
        ASSERT_EQ(via_read, it->second);
      } else {
        const uint64_t from = rng() % 2000;
        cache.EraseFile(file, from);
        for (auto it = ref.lower_bound({file, from}); it != ref.end() && it->first.first == file;)
          it = ref.erase(it);
      }
    }
    if (capacity_pages == 100000) {
      EXPECT_EQ(cache.stats().pages, ref.size());
    }
    EXPECT_LE(cache.stats().bytes, cache.capacity_bytes());
  }
}

TEST(PageCacheTest, ZeroCapacityCachesNothing) {
  PageCache cache(0);
  auto p = cache.Insert(1, 1, MakePage(9));
  EXPECT_EQ(Tag(p), 9u);
  EXPECT_EQ(cache.Lookup(1, 1), nullptr);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(PageCacheTest, ConcurrentUseStaysBounded) {
  PageCache cache(256 * kCharge, 8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 20000; ++i) {
        const uint64_t page = (i * 7 + t) % 1000;
        auto p = cache.Lookup(1, page);
        if (p) {
          ASSERT_EQ(Tag(p), page);
        } else {
          cache.Insert(1, page, MakePage(page));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.stats().bytes, cache.capacity_bytes());
  EXPECT_GT(cache.stats().hits, 0u);
}

}  // namespace
}  // namespace skeg::storage

namespace skeg::storage {
namespace {

TEST(PageCacheReadTest, ReadIfCachedCopiesOnlyValidBytes) {
  PageCache cache(100 * kCharge, 1);
  auto p = PageCache::NewPage();
  for (size_t i = 0; i < PageCache::kPageSize; ++i) p->data[i] = static_cast<char>(i % 251);
  p->valid = 1000;  // a page read while its file was 1000 bytes long
  cache.Insert(4, 2, p);
  char out[64];
  ASSERT_TRUE(cache.ReadIfCached(4, 2, 900, 64, out));
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(out[i], static_cast<char>((900 + i) % 251));
  EXPECT_FALSE(cache.ReadIfCached(4, 2, 990, 20, out));  // beyond the valid bytes
  EXPECT_FALSE(cache.ReadIfCached(4, 3, 0, 8, out));     // not cached
}

}  // namespace
}  // namespace skeg::storage

namespace skeg::storage {
namespace {

std::shared_ptr<const PageCache::Page> FairPage() {
  auto p = PageCache::NewPage();
  p->valid = PageCache::kPageSize;
  return p;
}

// A tenant over its share is evicted first: a noisy tenant streaming pages cannot push a quiet
// tenant's working set out.
TEST(PageCacheFairnessTest, OverShareOwnerIsEvictedFirst) {
  PageCache cache(256 * kCharge, /*shards=*/1);
  cache.SetOwnerShare(1, 128 * kCharge);
  cache.SetOwnerShare(2, 128 * kCharge);
  const uint64_t quiet = PageCache::NewFileId(), noisy = PageCache::NewFileId();
  for (uint64_t p = 0; p < 100; ++p) cache.Insert(quiet, p, FairPage(), 2);
  for (uint64_t p = 0; p < 2000; ++p) cache.Insert(noisy, p, FairPage(), 1);
  EXPECT_EQ(cache.OwnerBytes(2), 100 * kCharge);  // the quiet tenant kept every page
  EXPECT_LE(cache.OwnerBytes(1), 156 * kCharge);  // the rest of the capacity, no more
  for (uint64_t p = 0; p < 100; ++p) EXPECT_NE(cache.Lookup(quiet, p), nullptr) << p;
  // Without shares the same stream evicts the quiet tenant's unreferenced pages (plain S3-FIFO).
  PageCache plain(256 * kCharge, 1);
  for (uint64_t p = 0; p < 100; ++p) plain.Insert(quiet, p, FairPage(), 2);
  for (uint64_t p = 0; p < 2000; ++p) plain.Insert(noisy, p, FairPage(), 1);
  size_t kept = 0;
  for (uint64_t p = 0; p < 100; ++p) kept += plain.Lookup(quiet, p) != nullptr;
  EXPECT_LT(kept, 10u);
  // Erasing a file credits its owner.
  cache.EraseFile(quiet);
  EXPECT_EQ(cache.OwnerBytes(2), 0u);
}

}  // namespace
}  // namespace skeg::storage
