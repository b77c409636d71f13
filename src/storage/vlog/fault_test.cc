// Fault injection through the file layer: torn writes, failed fsync, ENOSPC, lost page cache.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "platform/fault_env.h"
#include "storage/vlog/store.h"
#include "storage/vlog/store_test_util.h"
#include "testing/temp_dir.h"

namespace skeg::storage {
namespace {

using test::GetOr;
using test::OpenOrDie;
using test::PutDeferred;
using test::TestOptions;

class FaultTest : public ::testing::Test {
 protected:
  StoreOptions Options() {
    auto o = TestOptions(dir_.path());
    o.env = &env_;
    return o;
  }
  // Simulates a crash of the machine: unsynced bytes vanish, then the store reopens.
  std::unique_ptr<Store> CrashAndReopen(std::unique_ptr<Store> store) {
    env_.SetFilesystemActive(false);
    store.reset();
    EXPECT_TRUE(env_.DropUnsyncedData().ok());
    env_.ClearFaults();
    return OpenOrDie(Options());
  }

  testing::TempDir dir_;
  platform::FaultInjectionEnv env_;
};

TEST_F(FaultTest, TornWriteIsNotAcknowledgedAndRecoveryCutsIt) {
  auto store = OpenOrDie(Options());
  ASSERT_TRUE(store->Put("a", "1").ok());
  env_.TearNextWrite(20);
  Status s = store->Put("b", std::string(500, 'b'));
  EXPECT_FALSE(s.ok());
  // Not acknowledged. (Readers may have seen it between its append to the write-behind tail
  // and the failed write, as in Redis; a restart decides what is on disk.)
  // A failed write stops writes until reopen (the kernel state is unknown).
  Status again = store->Put("c", "3");
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("reopen"), std::string_view::npos);
  EXPECT_EQ(GetOr(*store, "a"), "1");
  store = CrashAndReopen(std::move(store));
  EXPECT_EQ(GetOr(*store, "a"), "1");
  EXPECT_EQ(GetOr(*store, "b"), "<missing>");
  ASSERT_TRUE(store->Put("c", "3").ok());
  EXPECT_EQ(GetOr(*store, "c"), "3");
}

TEST_F(FaultTest, FailedFsyncIsNotAcknowledgedAndStoreStaysConsistent) {
  auto store = OpenOrDie(Options());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), "v").ok());
  env_.FailSyncs(1);
  Status s = store->Put("unsynced", "x");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  // Not acknowledged. (Readers may have seen it between its write and its failed sync, as in
  // Redis; it is not durable and a restart decides what is on disk.)
  // fsyncgate: after a failed fsync the store refuses writes rather than trust the kernel.
  Status again = store->Put("later", "y");
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("reopen"), std::string_view::npos);
  // Reads keep working.
  EXPECT_EQ(GetOr(*store, "k3"), "v");
  store = CrashAndReopen(std::move(store));
  EXPECT_EQ(store->key_count(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(GetOr(*store, "k" + std::to_string(i)), "v");
  EXPECT_EQ(GetOr(*store, "unsynced"), "<missing>");
  ASSERT_TRUE(store->Put("later", "y").ok());
}

TEST_F(FaultTest, DeferredWritesLearnOfAFailedSync) {
  auto store = OpenOrDie(Options());
  ASSERT_TRUE(store->Put("a", "1").ok());
  env_.FailSyncs(1);
  uint64_t ticket = 0;
  WriteOptions wo;
  wo.durability_ticket = &ticket;
  WriteBatch b;
  b.Put("b", "2");
  ASSERT_TRUE(store->Write(b, wo).ok());  // applied, not yet durable
  EXPECT_GT(ticket, 0u);
  Status waited = store->WaitDurable(ticket);
  EXPECT_TRUE(waited.IsIOError()) << waited.ToString();
  std::atomic<bool> called{false};
  Status via_callback;
  store->OnDurable(ticket, [&](const Status& s) {
    via_callback = s;
    called = true;
  });
  EXPECT_TRUE(called.load());
  EXPECT_TRUE(via_callback.IsIOError());
}

TEST_F(FaultTest, DiskFullIsAClearErrorAndCorruptsNothing) {
  auto store = OpenOrDie(Options());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store->Put("k" + std::to_string(i), std::string(100, 'v')).ok());
  env_.SetWriteBudget(300);
  std::vector<int> acknowledged;
  int failures = 0;
  for (int i = 20; i < 40; ++i) {
    Status s = store->Put("k" + std::to_string(i), std::string(100, 'v'));
    if (s.ok()) {
      // Once a write failed nothing more is acknowledged.
      EXPECT_EQ(failures, 0) << "k" << i << " acknowledged after a failed write";
      acknowledged.push_back(i);
      continue;
    }
    // ENOSPC keeps its code (clients see a disk-full error, not a generic I/O error), and the
    // store refuses writes until it is reopened: records past the failed write are in memory
    // only, so nothing after them may be acknowledged.
    EXPECT_TRUE(s.IsResourceExhausted()) << s.ToString();
    ++failures;
  }
  EXPECT_GT(failures, 0);
  EXPECT_LT(acknowledged.size(), 20u);
  // Space comes back; a restart (reopen) resumes writing.
  env_.ClearWriteBudget();
  EXPECT_FALSE(store->Put("before-reopen", "x").ok());
  store = CrashAndReopen(std::move(store));
  ASSERT_TRUE(store->Put("after", "ok").ok());
  store.reset();
  store = OpenOrDie(Options());
  EXPECT_EQ(GetOr(*store, "after"), "ok");
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(GetOr(*store, "k" + std::to_string(i)), std::string(100, 'v'));
  for (int i : acknowledged)
    EXPECT_EQ(GetOr(*store, "k" + std::to_string(i)), std::string(100, 'v'));
  EXPECT_EQ(store->key_count(), 21u + acknowledged.size());
}

// A power loss: unsynced bytes vanish. Relaxed acknowledges before the sync (below), so only
// the syncing tiers promise this.
TEST_F(FaultTest, AcknowledgedWritesSurviveLossOfUnsyncedData) {
  for (Durability d : {Durability::kKernel, Durability::kPowerLoss}) {
    testing::TempDir dir;
    auto o = TestOptions(dir.path());
    o.env = &env_;
    o.durability = d;
    auto store = OpenOrDie(o);
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE(store->Put("k" + std::to_string(i), std::to_string(i)).ok());
    env_.SetFilesystemActive(false);
    store.reset();
    ASSERT_TRUE(env_.DropUnsyncedData().ok());
    env_.ClearFaults();
    store = OpenOrDie(o);
    EXPECT_EQ(store->key_count(), 300u) << DurabilityName(d);
    for (int i = 0; i < 300; ++i)
      ASSERT_EQ(GetOr(*store, "k" + std::to_string(i)), std::to_string(i));
  }
}

// Whether `needle` is in one of the value-log files as the kernel has them (what a process
// crash leaves behind).
bool InLogFiles(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/vlog")) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

// Releases held syncs when it goes out of scope, also when an ASSERT returns early. Declare it
// after the futures and the store that wait on the syncs, so it is destroyed first and they
// can finish instead of hanging the test.
class ReleaseSyncsAtExit {
 public:
  explicit ReleaseSyncsAtExit(platform::FaultInjectionEnv* env) : env_(env) {}
  ~ReleaseSyncsAtExit() { env_->HoldSyncs(false); }
  ReleaseSyncsAtExit(const ReleaseSyncsAtExit&) = delete;
  ReleaseSyncsAtExit& operator=(const ReleaseSyncsAtExit&) = delete;

 private:
  platform::FaultInjectionEnv* env_;
};

constexpr auto kStuck = std::chrono::milliseconds(300);  // "does not complete" in these tests
constexpr auto kSoon = std::chrono::seconds(20);         // "completes" (sanitizer builds)

// Relaxed acknowledges a write once it is in the file, before (and whether or not) its
// fdatasync completes; kernel waits for the fsync.
TEST_F(FaultTest, RelaxedAcknowledgesOnceWrittenKernelOnceSynced) {
  {
    auto o = Options();
    o.durability = Durability::kRelaxed;
    auto store = OpenOrDie(o);
    env_.HoldSyncs(true);
    auto put = std::async(std::launch::async, [&] { return store->Put("r", "relaxed-value"); });
    const ReleaseSyncsAtExit release(&env_);
    ASSERT_EQ(put.wait_for(kSoon), std::future_status::ready) << "relaxed waited for its sync";
    ASSERT_TRUE(put.get().ok());
    EXPECT_TRUE(InLogFiles(dir_.path(), "relaxed-value")) << "acknowledged before its write";
    env_.HoldSyncs(false);
    ASSERT_TRUE(store->Sync().ok());
  }
  testing::TempDir other;
  auto o = TestOptions(other.path());
  o.env = &env_;
  o.durability = Durability::kKernel;
  auto store = OpenOrDie(o);
  env_.HoldSyncs(true);
  auto put = std::async(std::launch::async, [&] { return store->Put("k", "kernel-value"); });
  const ReleaseSyncsAtExit release(&env_);
  EXPECT_EQ(put.wait_for(kStuck), std::future_status::timeout) << "kernel did not wait";
  EXPECT_EQ(store->stats().unsynced_acked_bytes, 0u);  // kernel acknowledges only synced bytes
  env_.HoldSyncs(false);
  ASSERT_EQ(put.wait_for(kSoon), std::future_status::ready);
  EXPECT_TRUE(put.get().ok());
}

// A force-sync write (native WAIT_DURABLE) is fsynced before it is acknowledged even at the
// relaxed tier, and so is every later write until then: a connection combines its tickets with
// max(), so a later ticket stands for the forced write too.
TEST_F(FaultTest, RelaxedForceSyncWaitsAndHoldsLaterAcknowledgementsBack) {
  auto o = Options();
  o.durability = Durability::kRelaxed;
  auto store = OpenOrDie(o);
  ASSERT_TRUE(store->Put("warm", "up").ok());
  env_.HoldSyncs(true);
  auto forced = std::async(std::launch::async, [&] {
    WriteBatch b;
    b.Put("f", "forced");
    WriteOptions wo;
    wo.force_sync = true;
    return store->Write(b, wo).status();
  });
  const ReleaseSyncsAtExit release(&env_);
  EXPECT_EQ(forced.wait_for(kStuck), std::future_status::timeout) << "not fsynced yet";
  const uint64_t ticket = PutDeferred(*store, "later", "x");
  ASSERT_GT(ticket, 0u);
  ASSERT_TRUE(store->FlushWrites().ok());
  std::atomic<bool> acked{false};
  store->OnDurable(ticket, [&](const Status& s) { acked = s.ok(); });
  std::this_thread::sleep_for(kStuck);
  EXPECT_FALSE(acked.load()) << "acknowledged past an unsynced force-sync write";
  env_.HoldSyncs(false);
  ASSERT_EQ(forced.wait_for(kSoon), std::future_status::ready);
  EXPECT_TRUE(forced.get().ok());
  EXPECT_TRUE(store->WaitDurable(ticket).ok());
  EXPECT_TRUE(acked.load());
}

// Relaxed: a deferred write waits for a FlushWrites (the server's, once per event-loop pass)
// or the syncer's next pass, which comes at most once per relaxed_sync_interval_ms; Sync and
// Close cut the interval short.
TEST_F(FaultTest, RelaxedFlushWritesAcknowledgesBetweenPacedSyncs) {
  auto o = Options();
  o.durability = Durability::kRelaxed;
  o.relaxed_sync_interval_ms = 60'000;
  auto store = OpenOrDie(o);
  ASSERT_TRUE(store->Put("first", "1").ok());
  ASSERT_TRUE(store->Sync().ok());  // a pass now; the next one waits for the interval
  const uint64_t syncs = env_.syncs();
  const uint64_t ticket = PutDeferred(*store, "deferred", "deferred-value");
  ASSERT_GT(ticket, 0u);
  std::atomic<bool> acked{false};
  store->OnDurable(ticket, [&](const Status& s) { acked = s.ok(); });
  std::this_thread::sleep_for(kStuck);
  EXPECT_FALSE(acked.load()) << "the paced syncer ran a pass within its interval";
  EXPECT_FALSE(InLogFiles(dir_.path(), "deferred-value"));
  const uint64_t writes = env_.writes();
  EXPECT_EQ(store->stats().unsynced_acked_bytes, 0u);  // written to a tail only
  ASSERT_TRUE(store->FlushWrites().ok());
  EXPECT_TRUE(acked.load());
  EXPECT_EQ(env_.writes(), writes + 1);  // one pwritev
  // Acknowledged, not synced: what a power loss could take now (the record and its header).
  EXPECT_GT(store->stats().unsynced_acked_bytes, std::string("deferred-value").size());
  EXPECT_TRUE(InLogFiles(dir_.path(), "deferred-value"));
  ASSERT_TRUE(store->FlushWrites().ok());  // nothing new: no write
  EXPECT_EQ(env_.writes(), writes + 1);
  // Blocking writers are written by their group's leader: 200 of them share the paced pass.
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store->Put("k" + std::to_string(i), "v").ok());
  EXPECT_EQ(env_.syncs(), syncs);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(store->Sync().ok());  // wakes the pacing syncer
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_GT(env_.syncs(), syncs);
  EXPECT_EQ(store->stats().unsynced_acked_bytes, 0u);
}

// A Sync that a syncer pass already in progress covers is done when that pass is: it leaves no
// request behind that would make a later pass skip the relaxed pacing interval (it used to: a
// deferred write right after such a Sync was written and acknowledged at once by the syncer).
TEST_F(FaultTest, ASyncCoveredByAPassInProgressLeavesThePacingAlone) {
  auto o = Options();
  o.durability = Durability::kRelaxed;
  o.relaxed_sync_interval_ms = 60'000;
  auto store = OpenOrDie(o);
  env_.HoldSyncs(true);
  const ReleaseSyncsAtExit release(&env_);
  ASSERT_TRUE(store->Put("first", "1").ok());  // acknowledged once written; its pass starts
  const auto deadline = std::chrono::steady_clock::now() + kSoon;
  while (env_.syncs_waiting() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(env_.syncs_waiting(), 1) << "the syncer's pass for 'first' did not start";
  auto sync = std::async(std::launch::async, [&] { return store->Sync(); });
  EXPECT_EQ(sync.wait_for(kStuck), std::future_status::timeout);  // waits for that pass
  env_.HoldSyncs(false);
  ASSERT_EQ(sync.wait_for(kSoon), std::future_status::ready);
  ASSERT_TRUE(sync.get().ok());
  const uint64_t ticket = PutDeferred(*store, "deferred", "deferred-value");
  ASSERT_GT(ticket, 0u);
  std::atomic<bool> acked{false};
  store->OnDurable(ticket, [&](const Status& s) { acked = s.ok(); });
  std::this_thread::sleep_for(kStuck);
  EXPECT_FALSE(acked.load()) << "a pass ran within the pacing interval";
  EXPECT_FALSE(InLogFiles(dir_.path(), "deferred-value"));
  ASSERT_TRUE(store->FlushWrites().ok());
  EXPECT_TRUE(acked.load());
}

TEST_F(FaultTest, SyncCountsFollowTheTier) {
  auto o = Options();
  o.durability = Durability::kKernel;
  auto store = OpenOrDie(o);
  const uint64_t before = env_.syncs();
  ASSERT_TRUE(store->Put("a", "1").ok());
  EXPECT_EQ(env_.syncs(), before + 1);  // one fsync per commit group
}

}  // namespace
}  // namespace skeg::storage
