#include "storage/vlog/store.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "platform/fault_env.h"
#include "storage/keydir/keydir.h"
#include "storage/vlog/store_impl.h"
#include "storage/vlog/store_test_util.h"
#include "testing/temp_dir.h"

namespace skeg::storage {
namespace {

using test::GetOr;
using test::OpenOrDie;
using test::PutDeferred;
using test::TestOptions;

TEST(StoreTest, PutGetDeleteOverwrite) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->recovery_info().created);
  EXPECT_EQ(GetOr(*store, "a"), "<missing>");
  ASSERT_TRUE(store->Put("a", "1").ok());
  ASSERT_TRUE(store->Put("b", "2").ok());
  EXPECT_EQ(GetOr(*store, "a"), "1");
  ASSERT_TRUE(store->Put("a", "one").ok());
  EXPECT_EQ(GetOr(*store, "a"), "one");
  EXPECT_EQ(store->key_count(), 2u);
  EXPECT_EQ(*store->Delete("a"), true);
  EXPECT_EQ(*store->Delete("a"), false);
  EXPECT_EQ(GetOr(*store, "a"), "<missing>");
  EXPECT_EQ(GetOr(*store, "b"), "2");
  EXPECT_EQ(store->key_count(), 1u);
}

// Two keys whose hashes share the shard and the 32-bit fingerprint land in one probe run of
// the key directory, which keeps both; only the key read back from the record tells them apart.
// Finds such pairs by a birthday search over short ("s<i>") and long ("long key ... <i>") keys:
// a pair of equal lengths and a pair of different lengths (the write path rejects a candidate
// whose stored key length differs before comparing bytes).
TEST(StoreTest, KeysSharingADirectoryFingerprintStayDistinct) {
  auto name = [](uint32_t i) {  // fixed widths: 8 and 46 bytes
    char digits[16];
    std::snprintf(digits, sizeof(digits), "%07u", i >> 1);
    return (i & 1 ? std::string("s") : std::string("long key of the collision test, number ")) +
           digits;
  };
  auto slot_id = [](const std::string& key) {  // what the directory compares: shard + fingerprint
    const uint64_t h = KeyHash(KeySpace::kKv, key);
    return (static_cast<uint64_t>(KeyDir::ShardOf(h)) << 32) | KeyDir::FingerprintOf(h);
  };
  std::vector<std::pair<uint64_t, uint32_t>> ids;
  std::pair<std::string, std::string> same_len, diff_len;
  // 2^22 keys over 2^40 (shard, fingerprint) values: ~8 colliding pairs expected.
  ids.reserve(1u << 22);
  for (uint32_t i = 0; i < (1u << 22); ++i) ids.emplace_back(slot_id(name(i)), i);
  std::sort(ids.begin(), ids.end());
  for (size_t i = 1; i < ids.size(); ++i) {
    if (ids[i].first != ids[i - 1].first) continue;
    std::string a = name(ids[i - 1].second), b = name(ids[i].second);
    auto& pair = a.size() == b.size() ? same_len : diff_len;
    if (pair.first.empty()) pair = {a, b};
  }
  ids = {};
  // The hash is fixed, so so are the pairs found: both kinds exist for these names.
  ASSERT_FALSE(same_len.first.empty());
  ASSERT_FALSE(diff_len.first.empty());
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  for (const auto& [a, b] : {same_len, diff_len}) {
    SCOPED_TRACE(a + " / " + b);
    ASSERT_TRUE(store->Put(a, "va").ok());
    EXPECT_EQ(GetOr(*store, b), "<missing>");
    ASSERT_TRUE(store->Put(b, "vb").ok());
    EXPECT_EQ(GetOr(*store, a), "va");
    EXPECT_EQ(GetOr(*store, b), "vb");
    ASSERT_TRUE(store->Put(a, "va2").ok());  // overwrites a, not b
    EXPECT_EQ(GetOr(*store, a), "va2");
    EXPECT_EQ(GetOr(*store, b), "vb");
    EXPECT_EQ(*store->Delete(b), true);
    EXPECT_EQ(GetOr(*store, a), "va2");
    EXPECT_EQ(GetOr(*store, b), "<missing>");
    EXPECT_EQ(*store->Delete(b), false);
    ASSERT_TRUE(store->Put(b, "vb2").ok());
    EXPECT_EQ(GetOr(*store, b), "vb2");
  }
  const uint64_t keys = store->key_count();
  store.reset();  // replay (and the checkpoint) must keep both keys of each pair apart too
  store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(store->key_count(), keys);
  for (const auto& [a, b] : {same_len, diff_len}) {
    EXPECT_EQ(GetOr(*store, a), "va2");
    EXPECT_EQ(GetOr(*store, b), "vb2");
  }
}

// Pages the value log writes are put into the page cache (as main-queue pages): reading back
// what was just written costs no pread, a page continued by a later write is cached whole (the
// carry), and every byte matches the file (reads verify each record's CRC).
TEST(StoreTest, WrittenPagesAreCachedAsTheyAreFlushed) {
  testing::TempDir dir;
  PageCache cache(8 << 20, 1);
  StoreOptions o = TestOptions(dir.path());
  o.segment_target_bytes = 16 << 20;
  o.page_cache = &cache;
  std::mt19937 rng(7);
  auto value_of = [](int i, size_t n) { return std::string(n, static_cast<char>('a' + i % 26)); };
  std::vector<size_t> sizes;
  {
    auto store = OpenOrDie(o);
    // Records of 40 B to 3 KiB, each its own durable group (one flush each), so most pages
    // are continued by several flushes.
    for (int i = 0; i < 400; ++i) {
      sizes.push_back(1 + rng() % 3000);
      ASSERT_TRUE(store->Put("k" + std::to_string(i), value_of(i, sizes.back())).ok());
    }
    const auto before = cache.stats();
    for (int i = 0; i < 400; ++i) {
      ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), value_of(i, sizes[i])) << i;
    }
    EXPECT_EQ(cache.stats().misses, before.misses);  // every page was cached when written
    EXPECT_GT(cache.stats().hits, before.hits);
    // A value larger than the write-behind buffer is written straight to the file, uncached;
    // the page after it is cached again from the next page boundary on.
    ASSERT_TRUE(store->Put("big", std::string(3 << 20, 'B')).ok());
    for (int i = 400; i < 500; ++i) {
      sizes.push_back(1 + rng() % 3000);
      ASSERT_TRUE(store->Put("k" + std::to_string(i), value_of(i, sizes.back())).ok());
    }
    const auto after_big = cache.stats();
    ASSERT_EQ(GetOr(*store, "big"), std::string(3 << 20, 'B'));
    EXPECT_GE(cache.stats().misses - after_big.misses, (3u << 20) / PageCache::kPageSize - 1);
    const auto mid = cache.stats();
    for (int i = 400; i < 500; ++i) {
      ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), value_of(i, sizes[i])) << i;
    }
    EXPECT_LE(cache.stats().misses - mid.misses, 1u);  // at most the page the big value ended in
  }
  // After a restart the last page's start is unknown until the next page boundary; reads
  // stay correct across it.
  auto store = OpenOrDie(o);
  for (int i = 500; i < 600; ++i) {
    sizes.push_back(1 + rng() % 3000);
    ASSERT_TRUE(store->Put("k" + std::to_string(i), value_of(i, sizes.back())).ok());
  }
  for (int i = 0; i < 600; ++i) {
    ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), value_of(i, sizes[i])) << i;
  }
}

// PrefetchKeys is a hint: it reports how many records it started loading from the page
// cache and changes nothing a reader can see (contents, cache statistics).
TEST(StoreTest, PrefetchKeysLoadsCachedRecordsAndChangesNothing) {
  testing::TempDir dir;
  PageCache cache(8 << 20, 2);
  StoreOptions o = TestOptions(dir.path());  // 64 KiB segments: records over several files
  o.page_cache = &cache;
  auto store = OpenOrDie(o);
  std::vector<std::string> names;
  for (int i = 0; i < 400; ++i) {
    names.push_back("key:" + std::to_string(i));
    ASSERT_TRUE(store->Put(names.back(), std::string(300 + i % 7, 'v')).ok());
  }
  for (int i = 0; i < 400; i += 10) ASSERT_TRUE(store->Delete(names[i]).ok());
  std::vector<std::string_view> present, mixed;
  for (int i = 1; present.size() < 16; ++i) {
    if (i % 10 != 0) present.push_back(names[i]);
  }
  for (int i = 0; i < 40; ++i) mixed.push_back(names[i]);  // 0, 10, 20, 30 deleted
  mixed.insert(mixed.begin() + 3, {"absent", "", std::string_view("\0\xff", 2)});
  const PageCache::Stats before = cache.stats();
  EXPECT_EQ(store->PrefetchKeys(present), 16u);
  // Only the first kMaxPrefetchKeys keys are used: of those, 2 are deleted and 3 absent.
  EXPECT_EQ(store->PrefetchKeys(mixed), Store::kMaxPrefetchKeys - 5);
  EXPECT_EQ(store->PrefetchKeys(std::span<const std::string_view>()), 0u);
  const PageCache::Stats after = cache.stats();
  EXPECT_EQ(after.hits, before.hits);
  EXPECT_EQ(after.misses, before.misses);
  EXPECT_EQ(after.inserts, before.inserts);
  for (int i = 0; i < 400; ++i) {
    EXPECT_EQ(GetOr(*store, names[i]), i % 10 == 0 ? "<missing>" : std::string(300 + i % 7, 'v'))
        << i;
  }
  // Without a page cache nothing is loaded (the directory slots only).
  StoreOptions uncached = TestOptions(dir.path() + "/uncached");
  uncached.page_cache = nullptr;
  auto plain = OpenOrDie(uncached);
  ASSERT_TRUE(plain->Put("key:1", "v").ok());
  EXPECT_EQ(plain->PrefetchKeys(present), 0u);
}

TEST(StoreTest, EmptyAndBinaryKeysAndValues) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  std::string bin("\0\xff\r\n*3\0", 7);
  ASSERT_TRUE(store->Put("", "empty key").ok());
  ASSERT_TRUE(store->Put(bin, bin).ok());
  ASSERT_TRUE(store->Put("empty value", "").ok());
  EXPECT_EQ(GetOr(*store, ""), "empty key");
  EXPECT_EQ(GetOr(*store, bin), bin);
  EXPECT_EQ(GetOr(*store, "empty value"), "");
  ASSERT_TRUE(store->Close().ok());
  store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(GetOr(*store, ""), "empty key");
  EXPECT_EQ(GetOr(*store, bin), bin);
  EXPECT_EQ(GetOr(*store, "empty value"), "");
}

TEST(StoreTest, LimitsAreErrors) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_TRUE(store->Put(std::string(kMaxKeyBytes + 1, 'k'), "v").IsInvalidArgument());
  EXPECT_TRUE(store->Put(std::string(kMaxKeyBytes, 'k'), "v").ok());
  EXPECT_TRUE(store->Write(WriteBatch()).error().IsInvalidArgument());
  EXPECT_TRUE(store->Put("k", "v", -5).IsInvalidArgument());
}

TEST(StoreTest, LargeValueSpansSegmentTarget) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  ASSERT_TRUE(store->Put("big", big).ok());
  ASSERT_TRUE(store->Put("small", "s").ok());
  EXPECT_EQ(GetOr(*store, "big"), big);
  ASSERT_TRUE(store->Close().ok());
  store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(GetOr(*store, "big"), big);
  EXPECT_EQ(GetOr(*store, "small"), "s");
}

TEST(StoreTest, BatchIsAppliedInOrderAndCountsDeletes) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store->Put("x", "old").ok());
  WriteBatch b;
  b.Put("k1", "v1");
  b.Put("k2", "v2");
  b.Delete("x");
  b.Delete("never");
  b.Put("k1", "v1b");
  auto n = store->Write(b);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(GetOr(*store, "k1"), "v1b");
  EXPECT_EQ(GetOr(*store, "k2"), "v2");
  EXPECT_EQ(GetOr(*store, "x"), "<missing>");
  ASSERT_TRUE(store->Close().ok());
  store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(GetOr(*store, "k1"), "v1b");
  EXPECT_EQ(GetOr(*store, "k2"), "v2");
  EXPECT_EQ(GetOr(*store, "x"), "<missing>");
}

TEST(StoreTest, ExpiryHidesKeysAndSurvivesRestart) {
  testing::TempDir dir;
  std::atomic<int64_t> now{1'000'000};
  auto store = OpenOrDie(TestOptions(dir.path(), &now));
  ASSERT_TRUE(store->Put("soon", "v", 1'000'500).ok());
  ASSERT_TRUE(store->Put("later", "v", 2'000'000).ok());
  ASSERT_TRUE(store->Put("past", "v", 999'999).ok());
  EXPECT_EQ(GetOr(*store, "past"), "<missing>");
  auto r = store->Get("soon");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->expire_at, 1'000'500);
  now = 1'000'500;
  EXPECT_EQ(GetOr(*store, "soon"), "<missing>");
  EXPECT_EQ(*store->Delete("soon"), false);  // an expired key is not "removed"
  EXPECT_EQ(GetOr(*store, "later"), "v");
  ASSERT_TRUE(store->Close().ok());
  store = OpenOrDie(TestOptions(dir.path(), &now));
  EXPECT_EQ(GetOr(*store, "later"), "v");
  EXPECT_EQ(store->Get("later")->expire_at, 2'000'000);
  now = 2'000'001;
  EXPECT_EQ(GetOr(*store, "later"), "<missing>");
  // Replay after expiry drops the key entirely.
  ASSERT_TRUE(store->Close().ok());
  std::filesystem::remove(dir.path() + "/vlog/keydir.snap");
  store = OpenOrDie(TestOptions(dir.path(), &now));
  EXPECT_EQ(store->key_count(), 0u);
}

TEST(StoreTest, SecondOpenOfSameDirectoryFailsNamingHolder) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(store->SetLockHolderInfo("pid=4242 addrs=127.0.0.1:7379").ok());
  auto second = Store::Open(TestOptions(dir.path()));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.error().IsBusy());
  EXPECT_NE(second.error().message().find("pid=4242"), std::string_view::npos)
      << second.error().ToString();
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(Store::Open(TestOptions(dir.path())).ok());
}

TEST(StoreTest, ReopenWithCheckpointAndTail) {
  testing::TempDir dir;
  auto opts = TestOptions(dir.path());
  {
    auto store = OpenOrDie(opts);
    for (int i = 0; i < 3000; ++i)
      ASSERT_TRUE(store->Put("k" + std::to_string(i), std::to_string(i)).ok());
    ASSERT_TRUE(store->Checkpoint().ok());
    for (int i = 0; i < 3000; i += 3) ASSERT_TRUE(store->Put("k" + std::to_string(i), "new").ok());
    for (int i = 1; i < 3000; i += 3) ASSERT_TRUE(store->Delete("k" + std::to_string(i)).ok());
    // Simulate a crash after the checkpoint: no Close(), so no final checkpoint. We cannot
    // leak the store, so copy the directory while it is open.
    std::filesystem::copy(dir.path(), dir.path() + "-copy",
                          std::filesystem::copy_options::recursive);
  }
  std::string copy = dir.path() + "-copy";
  std::filesystem::remove(copy + "/LOCK");
  auto store = OpenOrDie(TestOptions(copy));
  EXPECT_TRUE(store->recovery_info().used_checkpoint);
  EXPECT_GT(store->recovery_info().replayed_records, 0u);
  EXPECT_EQ(store->key_count(), 2000u);
  for (int i = 0; i < 3000; ++i) {
    std::string want = i % 3 == 0 ? "new" : i % 3 == 1 ? "<missing>" : std::to_string(i);
    ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), want) << i;
  }
  store.reset();
  std::filesystem::remove_all(copy);
}

TEST(StoreTest, EveryDurabilityTierPersists) {
  for (Durability d : {Durability::kRelaxed, Durability::kKernel, Durability::kPowerLoss}) {
    testing::TempDir dir;
    auto opts = TestOptions(dir.path());
    opts.durability = d;
    {
      auto store = OpenOrDie(opts);
      for (int i = 0; i < 500; ++i)
        ASSERT_TRUE(store->Put("k" + std::to_string(i), std::string(100, 'v')).ok());
      WriteOptions wo;
      wo.force_sync = true;
      ASSERT_TRUE(store->Put("durable", "yes", kNoExpiry, wo).ok());
    }
    auto store = OpenOrDie(opts);
    EXPECT_EQ(store->key_count(), 501u) << DurabilityName(d);
    EXPECT_EQ(GetOr(*store, "durable"), "yes");
  }
}

TEST(StoreTest, ParseDurabilityNames) {
  EXPECT_EQ(*ParseDurability("relaxed"), Durability::kRelaxed);
  EXPECT_EQ(*ParseDurability("kernel"), Durability::kKernel);
  EXPECT_EQ(*ParseDurability("power-loss"), Durability::kPowerLoss);
  EXPECT_TRUE(ParseDurability("fast").error().IsInvalidArgument());
  EXPECT_EQ(DurabilityName(Durability::kPowerLoss), "power-loss");
}

TEST(StoreTest, ConcurrentWritersAreGroupCommitted) {
  testing::TempDir dir;
  auto opts = TestOptions(dir.path());
  opts.segment_target_bytes = 1 << 20;
  auto store = OpenOrDie(opts);
  constexpr int kThreads = 16, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_TRUE(
            store->Put("t" + std::to_string(t) + ":" + std::to_string(i), std::to_string(i)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store->key_count(), static_cast<uint64_t>(kThreads * kPerThread));
  StoreStats s = store->stats();
  EXPECT_EQ(s.committed_batches, static_cast<uint64_t>(kThreads * kPerThread));
  // Writes of concurrent writers shared syncs (the leader may commit a write alone, but the
  // syncer covers everything appended since its last pass).
  EXPECT_LT(s.syncs, s.committed_batches);
  // One sync pass covers every group written while the previous pass ran.
  EXPECT_GT(s.syncs, 0u);
  EXPECT_LE(s.syncs, s.commit_groups);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(GetOr(*store, "t" + std::to_string(t) + ":" + std::to_string(kPerThread - 1)),
              std::to_string(kPerThread - 1));
  }
}

TEST(StoreTest, ForEachKeySeesEveryLiveKeyOnce) {
  testing::TempDir dir;
  std::atomic<int64_t> now{1000};
  auto store = OpenOrDie(TestOptions(dir.path(), &now));
  std::set<std::string> want;
  for (int i = 0; i < 1000; ++i) {
    std::string k = "key:" + std::to_string(i);
    ASSERT_TRUE(store->Put(k, "v", i % 10 == 0 ? 1500 : kNoExpiry).ok());
    if (i % 10 != 0) want.insert(k);
  }
  now = 2000;
  std::multiset<std::string> seen;
  ASSERT_TRUE(store
                  ->ForEachKey([&](std::string_view k) {
                    seen.insert(std::string(k));
                    return true;
                  })
                  .ok());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), want);
  EXPECT_EQ(seen.size(), want.size());
}

TEST(StoreTest, KeyDirectoryBytesPerKeyReported) {
  testing::TempDir dir;
  auto opts = TestOptions(dir.path());
  opts.durability = Durability::kRelaxed;
  opts.segment_target_bytes = 16 << 20;
  auto store = OpenOrDie(opts);
  WriteBatch b;
  for (int i = 0; i < 200'000; ++i) {
    b.Put("key:" + std::to_string(i), "v");
    if (b.count() == 1000) {
      ASSERT_TRUE(store->Write(b).ok());
      b.Clear();
    }
  }
  StoreStats s = store->stats();
  EXPECT_EQ(s.keys, 200'000u);
  EXPECT_LE(static_cast<double>(s.keydir_bytes) / s.keys, 32.0);
  EXPECT_GE(store->MemoryUsage(), s.keydir_bytes);
}

}  // namespace
}  // namespace skeg::storage

namespace skeg::storage {
namespace {

TEST(StoreScanTest, CursorReturnsEveryKeyPresentThroughoutTheScan) {
  testing::TempDir dir;
  auto opts = test::TestOptions(dir.path());
  opts.segment_target_bytes = 1 << 20;
  auto store = test::OpenOrDie(opts);
  std::set<std::string> stable;
  for (int i = 0; i < 2000; ++i) {
    std::string k = "stable:" + std::to_string(i);
    ASSERT_TRUE(store->Put(k, "v").ok());
    stable.insert(k);
  }
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0, extra = 0;
  do {
    auto page = store->Scan(cursor, 10);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (auto& k : page->keys) seen.insert(k);
    cursor = page->next_cursor;
    // Keys added during the scan grow the directory (and move slots) under the cursor.
    for (int j = 0; j < 5; ++j)
      ASSERT_TRUE(store->Put("added:" + std::to_string(extra++), "v").ok());
    ++calls;
  } while (cursor != 0);
  for (const auto& k : stable) ASSERT_EQ(seen.count(k), 1u) << k;
  EXPECT_GT(calls, 100);
  EXPECT_TRUE(store->Scan(1ull << 60, 10).error().IsInvalidArgument());
}

TEST(StoreScanTest, ExpiryOnlyChangeIsReplayedLikeAPut) {
  testing::TempDir dir;
  std::atomic<int64_t> now{1000};
  {
    auto store = test::OpenOrDie(test::TestOptions(dir.path(), &now));
    ASSERT_TRUE(store->Put("k", "v").ok());
    WriteBatch b;
    b.PutExpiryChange("k", "v", 5000);
    ASSERT_TRUE(store->Write(b).ok());
    EXPECT_EQ(store->Get("k")->expire_at, 5000);
  }
  std::filesystem::remove(dir.path() + "/vlog/keydir.snap");
  auto store = test::OpenOrDie(test::TestOptions(dir.path(), &now));
  EXPECT_EQ(store->Get("k")->expire_at, 5000);
  now = 5000;
  EXPECT_EQ(test::GetOr(*store, "k"), "<missing>");
}

}  // namespace
}  // namespace skeg::storage

namespace skeg::storage {
namespace {

TEST(StoreDurabilityTicketTest, PipelinedWritesAreVisibleAtOnceAndDurableLater) {
  testing::TempDir dir;
  auto store = test::OpenOrDie(test::TestOptions(dir.path()));
  uint64_t last = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t ticket = PutDeferred(*store, "p" + std::to_string(i), std::to_string(i));
    ASSERT_GT(ticket, 0u);
    EXPECT_GE(ticket, last);  // tickets are log positions: monotonic
    last = ticket;
    // Read-your-writes before durability.
    ASSERT_EQ(test::GetOr(*store, "p" + std::to_string(i)), std::to_string(i));
  }
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  Status result = Status::Internal("not called");
  store->OnDurable(last, [&](const Status& s) {
    std::lock_guard lock(mu);
    result = s;
    fired = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return fired; }));
  }
  EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_TRUE(store->WaitDurable(last).ok());
  // Fewer sync passes than writes: one pass covers everything written before it started.
  EXPECT_LT(store->stats().syncs, 100u);
}

// The active segment is written behind: groups are appended in memory and written to the file
// by the syncer before each sync. Readers must see every record whatever stage it is in (tail,
// being flushed, on file, or straddling the flushed boundary), and a value larger than the
// tail bound is flushed by the committer itself.
TEST(StoreWriteBehindTest, ReadsSeeRecordsInTailFlushingAndFile) {
  testing::TempDir dir;
  auto o = TestOptions(dir.path());
  o.segment_target_bytes = 4u << 20;  // several tail flushes per segment, and a few rolls
  auto store = OpenOrDie(o);
  std::mt19937 rng(7);
  std::vector<std::string> values;
  uint64_t last = 0;
  for (int i = 0; i < 600; ++i) {
    // Mostly small records, some across 4 KiB pages, a few over the 1 MiB tail bound.
    const size_t size = i % 97 == 5 ? (1u << 20) + 4099 : i % 7 == 0 ? 9000 + i : 1 + rng() % 300;
    std::string v(size, '\0');
    for (auto& c : v) c = static_cast<char>('a' + rng() % 26);
    const uint64_t ticket = PutDeferred(*store, "w" + std::to_string(i), v);
    ASSERT_GT(ticket, 0u);
    last = std::max(last, ticket);
    values.push_back(std::move(v));
    // Read back at once, and an earlier record that may meanwhile be on its way to the file.
    ASSERT_EQ(GetOr(*store, "w" + std::to_string(i)), values[i]) << i;
    const int j = static_cast<int>(rng() % values.size());
    ASSERT_EQ(GetOr(*store, "w" + std::to_string(j)), values[j]) << j;
  }
  ASSERT_TRUE(store->WaitDurable(last).ok());
  // A group larger than the tail bound is written straight to the file, not copied into (and
  // kept in the capacity of) the tail buffers.
  ASSERT_TRUE(store->Put("huge", std::string(8u << 20, 'h')).ok());
  EXPECT_EQ(GetOr(*store, "huge"), std::string(8u << 20, 'h'));
  EXPECT_LT(store->MemoryUsage(), 6u << 20);
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(GetOr(*store, "w" + std::to_string(i)), values[i]) << i;
  store.reset();
  store = OpenOrDie(o);
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(GetOr(*store, "w" + std::to_string(i)), values[i]) << i;
}

TEST(StoreWriteBehindTest, OneWriteCallPerSegmentPerSyncPass) {
  testing::TempDir dir;
  platform::FaultInjectionEnv env;
  auto o = TestOptions(dir.path());
  o.env = &env;
  o.segment_target_bytes = 64u << 20;  // no roll during the test
  auto store = OpenOrDie(o);
  const uint64_t writes0 = env.writes();
  const StoreStats before = store->stats();
  uint64_t last = 0;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t ticket = PutDeferred(*store, "k" + std::to_string(i), std::string(64, 'v'));
    ASSERT_GT(ticket, 0u);
    last = std::max(last, ticket);
  }
  ASSERT_TRUE(store->WaitDurable(last).ok());
  const StoreStats after = store->stats();
  const uint64_t groups = after.commit_groups - before.commit_groups;
  const uint64_t syncs = after.syncs - before.syncs;
  const uint64_t writes = env.writes() - writes0;
  EXPECT_EQ(groups, 2000u);  // one writer: every write is its own group
  // Each sync pass writes what was appended since the previous one with one call (a pass may
  // find the tail already written, hence <=).
  EXPECT_LE(writes, syncs);
  EXPECT_GT(writes, 0u);
  // Before write-behind every group was one pwritev.
  EXPECT_LT(writes, groups);
}

}  // namespace
}  // namespace skeg::storage

namespace skeg::storage {
namespace {

TEST(StoreKeySpaceTest, SpacesAreIndependentAndSurviveRestartAndCompaction) {
  testing::TempDir dir;
  auto opts = test::TestOptions(dir.path());
  {
    auto store = test::OpenOrDie(opts);
    ASSERT_TRUE(store->Put("k", "redis").ok());
    WriteBatch b;
    b.Put("k", "vector", kNoExpiry, KeySpace::kVector);
    b.Put("idx", "meta", kNoExpiry, KeySpace::kCatalog);
    ASSERT_TRUE(store->Write(b).ok());
    EXPECT_EQ(test::GetOr(*store, "k"), "redis");
    EXPECT_EQ(store->Get("k", KeySpace::kVector)->value, "vector");
    EXPECT_TRUE(store->Get("idx").error().IsNotFound());
    EXPECT_EQ(store->key_count(), 1u);  // Redis keys only
    EXPECT_EQ(store->stats().internal_keys, 2u);
    // Deleting in one space leaves the other.
    WriteBatch d;
    d.Delete("k", KeySpace::kVector);
    ASSERT_EQ(*store->Write(d), 1u);
    EXPECT_EQ(test::GetOr(*store, "k"), "redis");
    EXPECT_TRUE(store->Get("k", KeySpace::kVector).error().IsNotFound());
    // Many vector overwrites make segments sparse; compaction must keep the survivors.
    for (int round = 0; round < 6; ++round) {
      WriteBatch v;
      for (int i = 0; i < 100; ++i) {
        v.Put("v" + std::to_string(i), std::to_string(round) + std::string(200, 'f'), kNoExpiry,
              KeySpace::kVector);
      }
      ASSERT_TRUE(store->Write(v).ok());
    }
    ASSERT_TRUE(store->Compact().ok());
    // Scans of the Redis space never show internal keys.
    std::set<std::string> kv, vec;
    ASSERT_TRUE(store
                    ->ForEachKey([&](std::string_view k) {
                      kv.insert(std::string(k));
                      return true;
                    })
                    .ok());
    ASSERT_TRUE(store
                    ->ForEachKey(
                        [&](std::string_view k) {
                          vec.insert(std::string(k));
                          return true;
                        },
                        KeySpace::kVector)
                    .ok());
    EXPECT_EQ(kv, std::set<std::string>{"k"});
    EXPECT_EQ(vec.size(), 100u);
    auto page = store->Scan(0, 1000);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->keys, std::vector<std::string>{"k"});
  }
  std::filesystem::remove(dir.path() + "/vlog/keydir.snap");
  auto store = test::OpenOrDie(opts);
  EXPECT_EQ(store->key_count(), 1u);
  EXPECT_EQ(store->stats().internal_keys, 101u);
  EXPECT_EQ(store->Get("idx", KeySpace::kCatalog)->value, "meta");
  EXPECT_TRUE(store->Get("k", KeySpace::kVector).error().IsNotFound());
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(store->Get("v" + std::to_string(i), KeySpace::kVector)->value,
              "5" + std::string(200, 'f'));
  }
}

}  // namespace
}  // namespace skeg::storage
