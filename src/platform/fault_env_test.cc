#include "platform/fault_env.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace skeg::platform {
namespace {

using ::testing::HasSubstr;

OpenOptions Writable() {
  OpenOptions o;
  o.read_only = false;
  o.create = true;
  return o;
}

class FaultEnvTest : public ::testing::Test {
 protected:
  std::unique_ptr<File> Open(const std::string& name) {
    auto f = env_.OpenFile(dir_.Sub(name), Writable());
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(f).value() : nullptr;
  }
  Status Write(File& f, uint64_t offset, std::string_view data) {
    const std::string_view chunks[] = {data};
    return f.WriteAt(offset, chunks);
  }
  std::string Contents(const std::string& name) {
    auto s = ReadFileToString(Env::Default(), dir_.Sub(name));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : "";
  }

  skeg::testing::TempDir dir_;
  FaultInjectionEnv env_;
};

TEST_F(FaultEnvTest, DelegatesWhenNoFaults) {
  auto f = Open("a");
  ASSERT_TRUE(Write(*f, 0, "hello").ok());
  ASSERT_TRUE(f->Sync(SyncMode::kData).ok());
  EXPECT_EQ(Contents("a"), "hello");
  EXPECT_EQ(f->fd(), -1);  // forces batch readers onto ReadAt
  std::string buf(5, '\0');
  EXPECT_EQ(*f->ReadAt(0, 5, buf.data()), 5u);
  EXPECT_EQ(buf, "hello");
  EXPECT_EQ(env_.writes(), 1u);
  EXPECT_EQ(env_.syncs(), 1u);
  EXPECT_EQ(env_.bytes_written(), 5u);
  EXPECT_TRUE(env_.FileExists(dir_.Sub("a")));
  EXPECT_EQ(*env_.FileSize(dir_.Sub("a")), 5u);
  EXPECT_EQ(env_.ListDir(dir_.path())->size(), 1u);
}

TEST_F(FaultEnvTest, TornWriteLeavesExactlyKeepBytes) {
  auto f = Open("torn");
  env_.TearNextWrite(7);
  const std::string_view chunks[] = {"abc", "defg", "hijk"};
  Status s = f->WriteAt(10, chunks);  // torn exactly after the first two chunks
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir_.Sub("torn")));
  EXPECT_EQ(*f->Size(), 17u);
  EXPECT_EQ(Contents("torn").substr(10), "abcdefg");

  env_.TearNextWrite(5);  // tear in the middle of a chunk
  EXPECT_TRUE(f->WriteAt(0, chunks).IsIOError());
  EXPECT_EQ(Contents("torn").substr(0, 5), "abcde");

  // Only the next write is torn.
  ASSERT_TRUE(Write(*f, 100, "whole").ok());
  EXPECT_EQ(Contents("torn").substr(100), "whole");

  // A write shorter than keep_bytes is not torn (and consumes the fault).
  env_.TearNextWrite(50);
  EXPECT_TRUE(Write(*f, 0, "tiny").ok());
  EXPECT_TRUE(Write(*f, 0, "tiny and more").ok());
}

TEST_F(FaultEnvTest, WriteBudgetRunsOutWithEnospc) {
  auto f = Open("budget");
  env_.SetWriteBudget(10);
  ASSERT_TRUE(Write(*f, 0, "123456").ok());
  Status s = Write(*f, 6, "789abc");
  EXPECT_TRUE(s.IsResourceExhausted()) << s.ToString();
  EXPECT_EQ(Contents("budget"), "123456789a");
  EXPECT_TRUE(Write(*f, 10, "x").IsResourceExhausted());
  EXPECT_EQ(Contents("budget"), "123456789a");
  EXPECT_EQ(env_.bytes_written(), 10u);
  env_.ClearWriteBudget();
  EXPECT_TRUE(Write(*f, 10, "x").ok());
  EXPECT_EQ(Contents("budget"), "123456789ax");
}

TEST_F(FaultEnvTest, FailedWritesWriteNothing) {
  auto f = Open("w");
  env_.FailNextWrites(2, ENOSPC);
  EXPECT_TRUE(Write(*f, 0, "a").IsResourceExhausted());
  EXPECT_TRUE(Write(*f, 0, "b").IsResourceExhausted());
  EXPECT_EQ(*f->Size(), 0u);
  EXPECT_TRUE(Write(*f, 0, "c").ok());
  env_.FailNextWrites(1);
  EXPECT_TRUE(Write(*f, 1, "d").IsIOError());
  EXPECT_EQ(Contents("w"), "c");
  EXPECT_EQ(env_.writes(), 4u);
}

TEST_F(FaultEnvTest, FailedSyncDoesNotAdvanceSyncedSize) {
  auto f = Open("s");
  ASSERT_TRUE(Write(*f, 0, "durable").ok());
  ASSERT_TRUE(f->Sync(SyncMode::kData).ok());
  ASSERT_TRUE(Write(*f, 7, "-lost").ok());
  env_.FailSyncs(2);
  EXPECT_TRUE(f->Sync(SyncMode::kData).IsIOError());
  EXPECT_TRUE(f->Sync(SyncMode::kFull).IsIOError());
  EXPECT_EQ(env_.SyncedSize(dir_.Sub("s")), 7u);
  EXPECT_EQ(env_.syncs(), 3u);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("s"), "durable");
}

TEST_F(FaultEnvTest, HeldSyncsWaitUntilReleased) {
  auto f = Open("h");
  ASSERT_TRUE(Write(*f, 0, "held").ok());
  env_.HoldSyncs(true);
  std::atomic<bool> synced{false};
  std::thread syncer([&] {
    EXPECT_TRUE(f->Sync(SyncMode::kData).ok());
    synced = true;
  });
  while (env_.syncs_waiting() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(synced.load());
  EXPECT_FALSE(env_.SyncedSize(dir_.Sub("h")).value_or(0) == 4u);  // nothing synced yet
  env_.HoldSyncs(false);
  syncer.join();
  EXPECT_TRUE(synced.load());
  EXPECT_EQ(env_.syncs_waiting(), 0);
  EXPECT_EQ(env_.SyncedSize(dir_.Sub("h")), 4u);
}

TEST_F(FaultEnvTest, DropUnsyncedDataTruncatesToLastSync) {
  {
    // A pre-existing file counts as synced at its size when opened.
    ASSERT_TRUE(WriteFileAtomic(Env::Default(), dir_.Sub("old"), "old-content").ok());
    auto old = Open("old");
    ASSERT_TRUE(Write(*old, 11, "+new").ok());
  }
  auto f = Open("log");
  ASSERT_TRUE(Write(*f, 0, "rec1;").ok());
  ASSERT_TRUE(f->Sync(SyncMode::kData).ok());
  ASSERT_TRUE(Write(*f, 5, "rec2;").ok());
  ASSERT_TRUE(f->Sync(SyncMode::kData).ok());
  ASSERT_TRUE(Write(*f, 10, "rec3;").ok());  // never synced
  auto never = Open("never");                // created, written, never synced
  ASSERT_TRUE(Write(*never, 0, "zzz").ok());

  env_.SetFilesystemActive(false);
  f.reset();
  never.reset();
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  env_.SetFilesystemActive(true);

  EXPECT_EQ(Contents("log"), "rec1;rec2;");
  EXPECT_EQ(Contents("never"), "");
  EXPECT_EQ(Contents("old"), "old-content");

  // Reopening keeps tracking from before (data written before a close is still unsynced).
  auto again = Open("log");
  ASSERT_TRUE(Write(*again, 10, "rec3;").ok());
  again.reset();
  auto again2 = Open("log");
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("log"), "rec1;rec2;");
}

TEST_F(FaultEnvTest, DsyncWritesAreDurable) {
  OpenOptions o = Writable();
  o.dsync = true;
  auto f = env_.OpenFile(dir_.Sub("dsync"), o);
  ASSERT_TRUE(f.ok());
  const std::string_view chunks[] = {"each write is synced"};
  ASSERT_TRUE((*f)->WriteAt(0, chunks).ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("dsync"), "each write is synced");
}

TEST_F(FaultEnvTest, RenameAndRemoveMoveTracking) {
  auto f = Open("tmp");
  ASSERT_TRUE(Write(*f, 0, "synced").ok());
  ASSERT_TRUE(f->Sync(SyncMode::kFull).ok());
  ASSERT_TRUE(Write(*f, 6, "-unsynced").ok());
  f.reset();
  ASSERT_TRUE(env_.RenameFile(dir_.Sub("tmp"), dir_.Sub("final")).ok());
  EXPECT_FALSE(env_.SyncedSize(dir_.Sub("tmp")).has_value());
  EXPECT_EQ(env_.SyncedSize(dir_.Sub("final")), 6u);
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("final"), "synced");

  ASSERT_TRUE(env_.RemoveFile(dir_.Sub("final")).ok());
  EXPECT_FALSE(env_.SyncedSize(dir_.Sub("final")).has_value());
  EXPECT_TRUE(env_.DropUnsyncedData().ok());
}

TEST_F(FaultEnvTest, TruncateLowersSyncedSize) {
  auto f = Open("t");
  ASSERT_TRUE(Write(*f, 0, "0123456789").ok());
  ASSERT_TRUE(f->Sync(SyncMode::kData).ok());
  ASSERT_TRUE(f->Truncate(4).ok());
  EXPECT_EQ(env_.SyncedSize(dir_.Sub("t")), 4u);
  ASSERT_TRUE(Write(*f, 4, "xx").ok());
  ASSERT_TRUE(env_.DropUnsyncedData().ok());
  EXPECT_EQ(Contents("t"), "0123");
}

TEST_F(FaultEnvTest, InactiveFilesystemRejectsMutations) {
  auto f = Open("a");
  ASSERT_TRUE(Write(*f, 0, "abc").ok());
  env_.SetFilesystemActive(false);
  EXPECT_FALSE(env_.filesystem_active());
  EXPECT_TRUE(Write(*f, 3, "d").IsIOError());
  EXPECT_TRUE(f->Sync(SyncMode::kData).IsIOError());
  EXPECT_TRUE(f->Truncate(0).IsIOError());
  EXPECT_TRUE(f->Allocate(0, 4096).IsIOError());
  EXPECT_TRUE(env_.OpenFile(dir_.Sub("b"), Writable()).status().IsIOError());
  EXPECT_TRUE(env_.CreateDir(dir_.Sub("d")).IsIOError());
  EXPECT_TRUE(env_.SyncDir(dir_.path()).IsIOError());
  EXPECT_TRUE(env_.RenameFile(dir_.Sub("a"), dir_.Sub("c")).IsIOError());
  EXPECT_TRUE(env_.RemoveFile(dir_.Sub("a")).IsIOError());
  // Reads still work.
  OpenOptions ro;
  auto r = env_.OpenFile(dir_.Sub("a"), ro);
  ASSERT_TRUE(r.ok());
  std::string buf(3, '\0');
  EXPECT_EQ(*(*r)->ReadAt(0, 3, buf.data()), 3u);
  EXPECT_EQ(buf, "abc");

  env_.ClearFaults();
  EXPECT_TRUE(Write(*f, 3, "d").ok());
  EXPECT_EQ(Contents("a"), "abcd");
}

TEST_F(FaultEnvTest, LockFileDelegates) {
  auto a = env_.LockFile(dir_.Sub("LOCK"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->SetHolderInfo("pid=1").ok());
  auto b = env_.LockFile(dir_.Sub("LOCK"));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("(pid=1)"));
}

TEST_F(FaultEnvTest, BudgetIsExactUnderConcurrentWriters) {
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 200;
  std::vector<std::unique_ptr<File>> files;
  for (int t = 0; t < kThreads; ++t) files.push_back(Open("c" + std::to_string(t)));
  env_.SetWriteBudget(1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        Write(*files[t], static_cast<uint64_t>(i) * 3, "abc").IgnoreError();
      }
    });
  }
  for (auto& th : threads) th.join();
  uint64_t total = 0;
  for (auto& f : files) total += *f->Size();
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(env_.bytes_written(), 1000u);
  EXPECT_EQ(env_.writes(), static_cast<uint64_t>(kThreads * kWritesPerThread));
}

}  // namespace
}  // namespace skeg::platform
