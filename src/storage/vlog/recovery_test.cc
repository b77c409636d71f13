// Recovery: torn tails are cut (and reported), damage elsewhere is an error naming file and
// offset, and a damaged checkpoint falls back to replaying the log.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "storage/vlog/segment.h"
#include "storage/vlog/store.h"
#include "storage/vlog/store_test_util.h"
#include "testing/temp_dir.h"

namespace skeg::storage {
namespace {

using test::GetOr;
using test::OpenOrDie;
using test::TestOptions;
namespace fs = std::filesystem;

std::vector<fs::path> Segments(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir + "/vlog")) {
    if (e.path().extension() == ".seg") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void FlipBit(const fs::path& p, uint64_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

void Fill(const std::string& dir, int n, size_t value_size = 200) {
  auto store = OpenOrDie(TestOptions(dir));
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(store->Put("key" + std::to_string(i), std::string(value_size, 'a' + i % 26)).ok());
  }
  ASSERT_TRUE(store->Close().ok());
  fs::remove(dir + "/vlog/keydir.snap");  // force replay of everything
}

TEST(RecoveryTest, TornTailOfLastSegmentIsTruncatedAndReported) {
  testing::TempDir dir;
  Fill(dir.path(), 50);
  auto segs = Segments(dir.path());
  auto last = segs.back();
  const uint64_t size = fs::file_size(last);
  // Cut the last record in half (a write torn by a crash).
  fs::resize_file(last, size - 100);
  auto store = OpenOrDie(TestOptions(dir.path()));
  const auto& info = store->recovery_info();
  EXPECT_GT(info.truncated_bytes, 0u);
  EXPECT_EQ(info.truncated_file, last.string());
  EXPECT_EQ(GetOr(*store, "key49"), "<missing>");
  EXPECT_EQ(GetOr(*store, "key48"), std::string(200, 'a' + 48 % 26));
  // The store continues appending after the cut.
  ASSERT_TRUE(store->Put("after", "x").ok());
  ASSERT_TRUE(store->Close().ok());
  store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(GetOr(*store, "after"), "x");
  EXPECT_EQ(store->recovery_info().truncated_bytes, 0u);
}

TEST(RecoveryTest, GarbageAppendedToLastSegmentIsTruncated) {
  testing::TempDir dir;
  Fill(dir.path(), 10);
  auto last = Segments(dir.path()).back();
  {
    std::ofstream f(last, std::ios::app | std::ios::binary);
    f << std::string(777, '\0');
  }
  auto store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_EQ(store->recovery_info().truncated_bytes, 777u);
  EXPECT_EQ(store->key_count(), 10u);
}

TEST(RecoveryTest, BitFlipInSealedSegmentIsCorruptionNamingFileAndOffset) {
  testing::TempDir dir;
  Fill(dir.path(), 1000);  // several 64 KiB segments
  auto segs = Segments(dir.path());
  ASSERT_GE(segs.size(), 3u);
  const uint64_t offset = kSegmentHeaderSize + 5 * (kRecordHeaderSize + 6 + 200) + 40;
  FlipBit(segs[1], offset);
  auto store = Store::Open(TestOptions(dir.path()));
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.error().IsCorruption());
  std::string msg(store.error().message());
  EXPECT_NE(msg.find(segs[1].string()), std::string::npos) << msg;
  // The offset named is the start of the damaged record.
  const uint64_t record_start = kSegmentHeaderSize + 5 * (kRecordHeaderSize + 6 + 200);
  EXPECT_NE(msg.find("offset " + std::to_string(record_start)), std::string::npos) << msg;
}

TEST(RecoveryTest, BitFlipInMiddleOfLastSegmentIsCorruptionNotTruncation) {
  testing::TempDir dir;
  Fill(dir.path(), 20);
  auto last = Segments(dir.path()).back();
  FlipBit(last, kSegmentHeaderSize + 50);
  auto store = Store::Open(TestOptions(dir.path()));
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.error().IsCorruption()) << store.error().ToString();
  EXPECT_NE(store.error().message().find(last.string()), std::string_view::npos);
}

TEST(RecoveryTest, SealedSegmentDamageDetectedEvenWithCheckpoint) {
  // With a checkpoint the sealed segment is not replayed; the damage surfaces on read, as a
  // Corruption error naming the file, never as a wrong value.
  testing::TempDir dir;
  {
    auto store = OpenOrDie(TestOptions(dir.path()));
    for (int i = 0; i < 1000; ++i)
      ASSERT_TRUE(store->Put("key" + std::to_string(i), std::string(200, 'v')).ok());
  }
  auto segs = Segments(dir.path());
  FlipBit(segs[0], kSegmentHeaderSize + 100);
  auto store = OpenOrDie(TestOptions(dir.path()));
  auto r = store->Get("key0");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsCorruption());
  EXPECT_NE(r.error().message().find(segs[0].string()), std::string_view::npos);
}

TEST(RecoveryTest, DamagedCheckpointFallsBackToFullReplay) {
  testing::TempDir dir;
  {
    auto store = OpenOrDie(TestOptions(dir.path()));
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(store->Put("key" + std::to_string(i), "v").ok());
    ASSERT_TRUE(store->Delete("key7").ok());
  }
  FlipBit(dir.path() + "/vlog/keydir.snap", 100);
  auto store = OpenOrDie(TestOptions(dir.path()));
  EXPECT_FALSE(store->recovery_info().used_checkpoint);
  EXPECT_EQ(store->key_count(), 299u);
  EXPECT_EQ(GetOr(*store, "key7"), "<missing>");
  EXPECT_EQ(GetOr(*store, "key299"), "v");
}

TEST(RecoveryTest, MissingManifestWithSegmentsIsAnError) {
  testing::TempDir dir;
  Fill(dir.path(), 3);
  fs::remove(dir.path() + "/MANIFEST");
  auto store = Store::Open(TestOptions(dir.path()));
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.error().IsCorruption());
  EXPECT_NE(store.error().message().find("MANIFEST"), std::string_view::npos);
}

TEST(RecoveryTest, CreateIfMissingFalse) {
  testing::TempDir dir;
  auto o = TestOptions(dir.path() + "/none");
  o.create_if_missing = false;
  auto store = Store::Open(o);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.error().IsNotFound());
}

TEST(RecoveryTest, TornBatchIsAllOrNothing) {
  testing::TempDir dir;
  {
    auto store = OpenOrDie(TestOptions(dir.path()));
    ASSERT_TRUE(store->Put("before", "1").ok());
    WriteBatch b;
    for (int i = 0; i < 20; ++i) b.Put("batch" + std::to_string(i), std::string(100, 'b'));
    ASSERT_TRUE(store->Write(b).ok());
  }
  fs::remove(dir.path() + "/vlog/keydir.snap");
  auto last = Segments(dir.path()).back();
  const uint64_t size = fs::file_size(last);
  // Cut at every point inside the batch record: never a partial batch.
  for (uint64_t cut : {size - 1, size - 140, size - 1000, size - 2000}) {
    testing::TempDir copy;
    fs::copy(dir.path(), copy.path(),
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    auto seg = Segments(copy.path()).back();
    fs::resize_file(seg, cut);
    auto store = OpenOrDie(TestOptions(copy.path()));
    EXPECT_EQ(GetOr(*store, "before"), "1");
    int present = 0;
    for (int i = 0; i < 20; ++i)
      present += GetOr(*store, "batch" + std::to_string(i)) != "<missing>";
    EXPECT_EQ(present, 0) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace skeg::storage
