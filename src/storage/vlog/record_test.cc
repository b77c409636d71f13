#include "storage/vlog/record.h"

#include <random>

#include <gtest/gtest.h>

#include "storage/vlog/segment.h"

namespace skeg::storage {
namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(RecordTest, RandomizedRoundTrip) {
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    const auto type = static_cast<RecordType>(1 + rng() % 4);
    std::string key = RandomBytes(rng, rng() % 64);
    std::string value = type == RecordType::kBatch ? std::string() : RandomBytes(rng, rng() % 3000);
    if (type == RecordType::kBatch) key.clear();
    const uint64_t seq = rng();
    const int64_t expire = static_cast<int64_t>(rng() >> 1);
    std::string buf = RandomBytes(rng, rng() % 5);  // records need not start at offset 0
    const size_t start = buf.size();
    AppendRecord(&buf, type, seq, key, value, expire);
    auto rec = DecodeRecord(std::string_view(buf).substr(start));
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->header.type, type);
    EXPECT_EQ(rec->header.sequence, seq);
    EXPECT_EQ(rec->header.expire_at, expire);
    EXPECT_EQ(rec->key, key);
    EXPECT_EQ(rec->value, value);
    EXPECT_EQ(rec->header.record_size(), buf.size() - start);
  }
}

TEST(RecordTest, EveryBitFlipIsDetected) {
  std::string buf;
  AppendRecord(&buf, RecordType::kPut, 77, "user:1", "some value bytes", 1700000000000);
  for (size_t byte = 0; byte < buf.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = buf;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      EXPECT_FALSE(DecodeRecord(bad).ok()) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(RecordTest, TruncationIsDetected) {
  std::string buf;
  AppendRecord(&buf, RecordType::kPut, 1, "k", "value", 0);
  for (size_t n = 0; n < buf.size(); ++n) {
    auto r = DecodeRecord(std::string_view(buf).substr(0, n));
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().IsCorruption());
  }
}

TEST(RecordTest, HeaderRejectsUnknownTypeAndReservedBits) {
  std::string buf;
  AppendRecord(&buf, RecordType::kPut, 1, "k", "v", 0);
  std::string t = buf;
  t[4] = 9;
  EXPECT_TRUE(DecodeRecordHeader(t).error().IsCorruption());
  std::string f = buf;
  f[5] = 1;
  EXPECT_TRUE(DecodeRecordHeader(f).error().IsCorruption());
}

TEST(SegmentTest, FileNamesAndHeader) {
  EXPECT_EQ(SegmentFileName(42), "00000042.seg");
  EXPECT_EQ(ParseSegmentFileName("00000042.seg"), 42u);
  EXPECT_FALSE(ParseSegmentFileName("keydir.snap").has_value());
  EXPECT_FALSE(ParseSegmentFileName("0000004x.seg").has_value());
  char h[kSegmentHeaderSize];
  EncodeSegmentHeader(h, 7, 123);
  EXPECT_TRUE(DecodeSegmentHeader(std::string_view(h, sizeof(h)), 7).ok());
  EXPECT_TRUE(DecodeSegmentHeader(std::string_view(h, sizeof(h)), 8).IsCorruption());
  h[3] ^= 1;
  EXPECT_TRUE(DecodeSegmentHeader(std::string_view(h, sizeof(h)), 7).IsCorruption());
}

}  // namespace
}  // namespace skeg::storage
