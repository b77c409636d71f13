#include "common/coding.h"

#include <random>

#include <gtest/gtest.h>

namespace skeg {
namespace {

TEST(CodingTest, FixedRoundTripIsLittleEndian) {
  char buf[8];
  EncodeFixed32(buf, 0x04030201u);
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(buf[3], 4);
  EXPECT_EQ(DecodeFixed32(buf), 0x04030201u);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = rng();
    EncodeFixed64(buf, v);
    EXPECT_EQ(DecodeFixed64(buf), v);
  }
}

TEST(CodingTest, ByteReaderRefusesShortInput) {
  std::string s;
  PutFixed32(&s, 7);
  PutFixed64(&s, 9);
  s += "abc";
  ByteReader r(s);
  uint32_t a;
  uint64_t b;
  std::string_view rest;
  ASSERT_TRUE(r.GetFixed32(&a));
  ASSERT_TRUE(r.GetFixed64(&b));
  EXPECT_EQ(a, 7u);
  EXPECT_EQ(b, 9u);
  EXPECT_FALSE(r.GetBytes(4, &rest));
  EXPECT_EQ(r.remaining(), 3u);
  ASSERT_TRUE(r.GetBytes(3, &rest));
  EXPECT_EQ(rest, "abc");
  EXPECT_FALSE(r.GetFixed32(&a));
}

}  // namespace
}  // namespace skeg
