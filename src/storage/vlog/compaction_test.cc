#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "platform/thread.h"
#include "storage/vlog/store.h"
#include "storage/vlog/store_test_util.h"
#include "testing/temp_dir.h"

namespace skeg::storage {
namespace {

using test::GetOr;
using test::OpenOrDie;
using test::TestOptions;
namespace fs = std::filesystem;

size_t SegmentCount(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir + "/vlog")) n += e.path().extension() == ".seg";
  return n;
}

// One of this process's threads, found by name in /proc/self/task.
struct ThreadInfo {
  int nice = 0;
  uint64_t voluntary_switches = 0;
};
std::optional<ThreadInfo> FindThread(const std::string& name) {
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string n;
    std::getline(comm, n);
    if (n != name) continue;
    ThreadInfo info;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    // Fields after "(comm)": state is field 3, nice field 19.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19 && fields >> field; ++i) {
      if (i == 19) info.nice = std::stoi(field);
    }
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("voluntary_ctxt_switches:")) {
        info.voluntary_switches = std::stoull(line.substr(line.find(':') + 1));
      }
    }
    return info;
  }
  return std::nullopt;
}

// Polls until `name` shows up with nice `nice` (threads name themselves and set their priority
// once running), for up to 10 s.
std::optional<ThreadInfo> WaitForThread(const std::string& name, int nice) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto t = FindThread(name); t && t->nice == nice) return t;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return FindThread(name);
}

// Overwrites 50 keys 40 times (segments of 64 KiB that end up mostly garbage) and waits for
// the background compactor to rewrite at least one; then checks every value.
void OverwriteUntilCompacted(Store& store) {
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          store.Put("k" + std::to_string(i), std::to_string(round) + std::string(200, 'x')).ok());
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (store.stats().compactions == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(store.stats().compactions, 0u);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(GetOr(store, "k" + std::to_string(i)), "39" + std::string(200, 'x'));
}

TEST(CompactionTest, RewritesSparseSegmentsAndKeepsEveryValue) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(
          store->Put("k" + std::to_string(i), std::to_string(round) + std::string(150, 'x')).ok());
    }
  }
  const size_t before = SegmentCount(dir.path());
  const uint64_t disk_before = store->stats().disk_bytes;
  ASSERT_TRUE(store->Compact().ok());
  StoreStats s = store->stats();
  EXPECT_GT(s.compactions, 0u);
  EXPECT_LT(SegmentCount(dir.path()), before);
  EXPECT_LT(s.disk_bytes, disk_before);
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), "4" + std::string(150, 'x'));
  ASSERT_TRUE(store->Close().ok());
  store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(store->key_count(), 300u);
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), "4" + std::string(150, 'x'));
}

TEST(CompactionTest, DeletedKeysStayDeletedAfterFullReplay) {
  testing::TempDir dir;
  {
    auto store = OpenOrDie(TestOptions(dir.path()));
    for (int i = 0; i < 400; ++i)
      ASSERT_TRUE(store->Put("k" + std::to_string(i), std::string(200, 'v')).ok());
    for (int i = 0; i < 400; i += 2) ASSERT_TRUE(store->Delete("k" + std::to_string(i)).ok());
    // Overwrite the odd keys so the segments holding the tombstones become sparse too.
    for (int i = 1; i < 400; i += 2) ASSERT_TRUE(store->Put("k" + std::to_string(i), "new").ok());
    ASSERT_TRUE(store->Compact().ok());
    ASSERT_TRUE(store->Compact().ok());
  }
  // Without the checkpoint, every remaining segment is replayed: a dropped tombstone whose
  // put survived in an older segment would resurrect the key.
  fs::remove(dir.path() + "/vlog/keydir.snap");
  auto store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(store->key_count(), 200u);
  for (int i = 0; i < 400; ++i) {
    ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), i % 2 == 0 ? "<missing>" : "new") << i;
  }
}

TEST(CompactionTest, ExpiredKeysAreReclaimed) {
  testing::TempDir dir;
  std::atomic<int64_t> now{1000};
  auto store = OpenOrDie(TestOptions(dir.path(), &now));
  for (int i = 0; i < 600; ++i)
    ASSERT_TRUE(store->Put("tmp" + std::to_string(i), std::string(200, 't'), 5000).ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(store->Put("keep" + std::to_string(i), "k").ok());
  now = 6000;
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_EQ(store->key_count(), 100u);
  EXPECT_GT(store->stats().compaction_bytes_reclaimed, 0u);
  ASSERT_TRUE(store->Close().ok());
  fs::remove(dir.path() + "/vlog/keydir.snap");
  store = OpenOrDie(TestOptions(dir.path(), &now));
  EXPECT_EQ(store->key_count(), 100u);
}

TEST(CompactionTest, BatchRecordsAreCompactedPerKey) {
  testing::TempDir dir;
  auto store = OpenOrDie(TestOptions(dir.path()));
  WriteBatch b;
  for (int i = 0; i < 100; ++i) b.Put("b" + std::to_string(i), std::string(100, 'b'));
  ASSERT_TRUE(store->Write(b).ok());
  for (int i = 0; i < 90; ++i) ASSERT_TRUE(store->Put("b" + std::to_string(i), "over").ok());
  for (int i = 0; i < 600; ++i)
    ASSERT_TRUE(store->Put("fill" + std::to_string(i % 50), std::string(150, 'f')).ok());
  ASSERT_TRUE(store->Compact().ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(GetOr(*store, "b" + std::to_string(i)), i < 90 ? "over" : std::string(100, 'b'));
  }
  ASSERT_TRUE(store->Close().ok());
  fs::remove(dir.path() + "/vlog/keydir.snap");
  store = OpenOrDie(TestOptions(dir.path()));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(GetOr(*store, "b" + std::to_string(i)), i < 90 ? "over" : std::string(100, 'b'));
  }
}

TEST(CompactionTest, SealingASegmentWakesTheCompactor) {
  testing::TempDir dir;
  auto o = TestOptions(dir.path());
  o.background_compaction = true;
  o.compaction_check_ms = 600'000;  // the periodic check never comes during the test
  auto store = OpenOrDie(o);
  OverwriteUntilCompacted(*store);
}

TEST(CompactionTest, CompactorScansAtLowerPriorityAndCommitsAtTheServers) {
  testing::TempDir dir;
  auto o = TestOptions(dir.path());
  o.background_compaction = true;
  o.compaction_check_ms = 600'000;  // only sealing a segment wakes the compactor
  o.compaction_nice = 7;
  const int base = platform::CurrentThreadNice();
  auto store = OpenOrDie(o);
  auto compactor = WaitForThread("skeg-compactor", std::min(base + 7, 19));
  ASSERT_TRUE(compactor.has_value());
  EXPECT_EQ(compactor->nice, std::min(base + 7, 19));
  auto committer = WaitForThread("skeg-bg-commit", base);
  ASSERT_TRUE(committer.has_value());
  EXPECT_EQ(committer->nice, base);
  auto syncer = WaitForThread("skeg-syncer", base);
  ASSERT_TRUE(syncer.has_value());
  EXPECT_EQ(syncer->nice, base);

  OverwriteUntilCompacted(*store);
  // The compactor's relocations and segment drop were submitted by the background-commit
  // thread, which only wakes up for a request handed to it.
  auto after = FindThread("skeg-bg-commit");
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(after->voluntary_switches, committer->voluntary_switches + 2);
}

TEST(CompactionTest, CompactionNiceZeroKeepsOneThreadAtTheServersPriority) {
  testing::TempDir dir;
  auto o = TestOptions(dir.path());
  o.background_compaction = true;
  o.compaction_check_ms = 600'000;
  o.compaction_nice = 0;
  const int base = platform::CurrentThreadNice();
  auto store = OpenOrDie(o);
  auto compactor = WaitForThread("skeg-compactor", base);
  ASSERT_TRUE(compactor.has_value());
  EXPECT_EQ(compactor->nice, base);
  EXPECT_FALSE(FindThread("skeg-bg-commit").has_value());
  OverwriteUntilCompacted(*store);
}

TEST(CompactionTest, CompactionNiceOutsideItsRangeIsRejected) {
  testing::TempDir dir;
  for (int nice : {-1, 20}) {
    auto o = TestOptions(dir.path());
    o.compaction_nice = nice;
    auto store = Store::Open(o);
    ASSERT_FALSE(store.ok()) << nice;
    EXPECT_TRUE(store.error().IsInvalidArgument()) << store.error().ToString();
  }
}

TEST(CompactionTest, ConcurrentWritesAndReadsDuringBackgroundCompaction) {
  testing::TempDir dir;
  auto o = TestOptions(dir.path());
  o.background_compaction = true;
  o.compaction_check_ms = 5;
  auto store = OpenOrDie(o);
  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0};
  std::thread reader([&] {
    while (!stop) {
      for (int i = 0; i < 50; ++i) {
        auto r = store->Get("k" + std::to_string(i));
        if (!r.ok() && !r.error().IsNotFound()) ++read_errors;
      }
    }
  });
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          store->Put("k" + std::to_string(i), std::to_string(round) + std::string(200, 'x')).ok());
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(read_errors.load(), 0);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), "39" + std::string(200, 'x'));
  EXPECT_GT(store->stats().compactions, 0u);
  ASSERT_TRUE(store->Close().ok());
  store = OpenOrDie(TestOptions(dir.path()));
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), "39" + std::string(200, 'x'));
}

}  // namespace
}  // namespace skeg::storage
