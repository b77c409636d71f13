#include "storage/vlog/manifest.h"

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace skeg::storage {
namespace {

TEST(ManifestTest, RoundTripKeepsUnknownKeys) {
  Manifest m;
  m.created_unix_ms = 1763731200000;
  m.partitions = 4;
  m.catalog = "indexes/catalog";
  m.extra["future_key"] = "x";
  auto d = Manifest::Decode(m.Encode());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->created_unix_ms, m.created_unix_ms);
  EXPECT_EQ(d->partitions, 4u);
  EXPECT_EQ(d->catalog, "indexes/catalog");
  EXPECT_EQ(d->extra.at("future_key"), "x");
  EXPECT_EQ(d->Encode(), m.Encode());
}

TEST(ManifestTest, DetectsDamage) {
  std::string text = Manifest{}.Encode();
  std::string flipped = text;
  flipped[text.find("partitions=1") + 11] = '2';
  EXPECT_TRUE(Manifest::Decode(flipped).error().IsCorruption());
  EXPECT_TRUE(Manifest::Decode(text.substr(0, text.size() / 2)).error().IsCorruption());
  EXPECT_TRUE(Manifest::Decode("garbage").error().IsCorruption());
}

TEST(ManifestTest, RejectsNewerVersion) {
  Manifest m;
  m.format_version = 99;
  auto d = Manifest::Decode(m.Encode());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code(), StatusCode::kNotSupported);
}

TEST(ManifestTest, AtomicWriteAndRead) {
  testing::TempDir dir;
  auto* env = platform::Env::Default();
  EXPECT_TRUE(ReadManifest(env, dir.path()).error().IsNotFound());
  Manifest m;
  m.created_unix_ms = 5;
  ASSERT_TRUE(WriteManifest(env, dir.path(), m).ok());
  auto r = ReadManifest(env, dir.path());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->created_unix_ms, 5);
}

}  // namespace
}  // namespace skeg::storage
