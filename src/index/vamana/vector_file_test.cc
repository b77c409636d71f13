#include "index/vamana/vector_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/coding.h"
#include "testing/datasets.h"
#include "testing/temp_dir.h"

namespace skeg::index::vamana {
namespace {

using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

std::vector<float> RandomRows(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 10.0f);
  std::vector<float> rows(n * d);
  for (float& v : rows) v = dist(rng);
  return rows;
}

std::string Fvecs(const std::vector<float>& rows, size_t d) {
  std::string out;
  for (size_t i = 0; i < rows.size() / d; ++i) {
    PutFixed32(&out, static_cast<uint32_t>(d));
    out.append(reinterpret_cast<const char*>(rows.data() + i * d), d * sizeof(float));
  }
  return out;
}

std::string Bvecs(const std::vector<uint8_t>& rows, size_t d) {
  std::string out;
  for (size_t i = 0; i < rows.size() / d; ++i) {
    PutFixed32(&out, static_cast<uint32_t>(d));
    out.append(reinterpret_cast<const char*>(rows.data() + i * d), d);
  }
  return out;
}

// An .npy file: `dict` is the header's dict literal, padded as NumPy pads it (total header a
// multiple of 64 bytes, ending in '\n'), followed by `data`.
std::string Npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  if (major == 1) {
    char len[2];
    EncodeFixed16(len, static_cast<uint16_t>(header.size()));
    out.append(len, 2);
  } else {
    PutFixed32(&out, static_cast<uint32_t>(header.size()));
  }
  return out + header + data;
}

std::string NpyDict(const std::string& descr, size_t n, size_t d, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': (" + std::to_string(n) + ", " + std::to_string(d) + "), }";
}

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::vector<float> ReadAll(const RowSource& src) {
  std::vector<float> out(src.size() * src.dim());
  EXPECT_TRUE(src.ReadRows(0, src.size(), out.data()).ok());
  return out;
}

class VectorFileTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.Sub(name); }
  // Writes `bytes` to `name` and opens it.
  Result<std::unique_ptr<VectorFile>> WriteAndOpen(const std::string& name,
                                                   const std::string& bytes) {
    WriteFile(Path(name), bytes);
    return VectorFile::Open(nullptr, Path(name));
  }

  testing::TempDir dir_;
};

TEST(VectorFileFormatTest, ChosenByExtensionIgnoringCase) {
  EXPECT_EQ(*VectorFileFormatFromPath("a/b.fvecs"), VectorFileFormat::kFvecs);
  EXPECT_EQ(*VectorFileFormatFromPath("B.BVECS"), VectorFileFormat::kBvecs);
  EXPECT_EQ(*VectorFileFormatFromPath("x.Npy"), VectorFileFormat::kNpy);
  for (const char* bad : {"x.npz", "x.npy.bak", "dir.npy/rows", "fvecs", "x.ivecs", ""}) {
    auto r = VectorFileFormatFromPath(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.error().IsInvalidArgument()) << bad;
    EXPECT_THAT(std::string(r.error().message()), HasSubstr("expected a .npy, .fvecs or .bvecs"));
  }
}

TEST_F(VectorFileTest, UnknownExtensionIsInvalidArgument) {
  WriteFile(Path("rows.csv"), "1,2,3\n");
  auto f = OpenVectorFile(nullptr, Path("rows.csv"));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsInvalidArgument());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("rows.csv"));
}

TEST_F(VectorFileTest, MissingFileIsNotFound) {
  auto f = OpenVectorFile(nullptr, Path("absent.fvecs"));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsNotFound()) << f.error().ToString();
}

TEST_F(VectorFileTest, FvecsRoundTrip) {
  const size_t n = 37, d = 13;
  const std::vector<float> rows = RandomRows(n, d, 1);
  auto f = WriteAndOpen("base.FVECS", Fvecs(rows, d));
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ((*f)->size(), n);
  EXPECT_EQ((*f)->dim(), d);
  EXPECT_EQ((*f)->format(), VectorFileFormat::kFvecs);
  EXPECT_EQ((*f)->element_type(), VectorElementType::kF32);
  EXPECT_EQ((*f)->file_bytes(), n * (4 + 4 * d));
  EXPECT_THAT((*f)->Describe(), HasSubstr("fvecs, 37 rows x 13 dims (f32)"));
  EXPECT_EQ(ReadAll(**f), rows);
  // Every sub-range, including empty ones at both ends.
  std::vector<float> part(n * d);
  for (size_t begin = 0; begin <= n; begin += 5) {
    for (size_t count = 0; begin + count <= n; count += 3) {
      ASSERT_TRUE((*f)->ReadRows(begin, count, part.data()).ok());
      ASSERT_TRUE(std::equal(part.begin(), part.begin() + static_cast<long>(count * d),
                             rows.begin() + static_cast<long>(begin * d)));
    }
  }
}

TEST_F(VectorFileTest, BvecsRoundTripConvertsBytesToFloats) {
  const size_t n = 20, d = 7;
  std::vector<uint8_t> bytes(n * d);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 37) % 256);
  bytes[0] = 255;
  bytes[1] = 0;
  auto f = WriteAndOpen("b.bvecs", Bvecs(bytes, d));
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ((*f)->element_type(), VectorElementType::kU8);
  ASSERT_EQ((*f)->size(), n);
  const std::vector<float> got = ReadAll(**f);
  for (size_t i = 0; i < bytes.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(bytes[i])) << i;
  EXPECT_EQ(got[0], 255.0f);
}

TEST_F(VectorFileTest, NpyF32RoundTripInEveryVersion) {
  const size_t n = 25, d = 9;
  const std::vector<float> rows = RandomRows(n, d, 2);
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    auto f = WriteAndOpen("v" + std::to_string(major) + ".npy",
                          Npy(NpyDict("<f4", n, d), Bytes(rows), major));
    ASSERT_TRUE(f.ok()) << f.error().ToString();
    EXPECT_EQ((*f)->size(), n);
    EXPECT_EQ((*f)->dim(), d);
    EXPECT_EQ(ReadAll(**f), rows);
    std::vector<float> one(d);
    ASSERT_TRUE((*f)->ReadRows(n - 1, 1, one.data()).ok());
    EXPECT_TRUE(std::equal(one.begin(), one.end(), rows.end() - static_cast<long>(d)));
  }
}

TEST_F(VectorFileTest, NpyF64IsRoundedToF32) {
  const size_t n = 6, d = 4;
  std::vector<double> rows(n * d);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = 0.1 * static_cast<double>(i) - 1.0;
  rows[3] = 1e300;  // beyond f32: becomes +Inf (the builder rejects it)
  auto f = WriteAndOpen("d.npy", Npy(NpyDict("<f8", n, d), Bytes(rows)));
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ((*f)->element_type(), VectorElementType::kF64);
  const std::vector<float> got = ReadAll(**f);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i == 3) {
      EXPECT_EQ(got[i], std::numeric_limits<float>::infinity());
    } else {
      EXPECT_EQ(got[i], static_cast<float>(rows[i])) << i;
    }
  }
}

TEST_F(VectorFileTest, NpyU8InBothSpellings) {
  const size_t n = 5, d = 3;
  std::vector<uint8_t> rows(n * d);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint8_t>(250 + i % 6);
  for (const char* descr : {"|u1", "<u1"}) {
    auto f = WriteAndOpen("u.npy", Npy(NpyDict(descr, n, d), Bytes(rows)));
    ASSERT_TRUE(f.ok()) << descr << ": " << f.error().ToString();
    const std::vector<float> got = ReadAll(**f);
    for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(rows[i]));
  }
}

TEST_F(VectorFileTest, NpyHeaderVariantsNumPyHasWritten) {
  const std::vector<float> rows = RandomRows(3, 2, 3);
  // Double quotes, keys in another order, no trailing comma, Python 2 longs.
  for (const std::string dict :
       {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, 2)}",
        "{'shape': (3L, 2L), 'fortran_order': False, 'descr': '<f4'}",
        "{'descr':'<f4','fortran_order':False,'shape':(3,2,),}"}) {
    auto f = WriteAndOpen("h.npy", Npy(dict, Bytes(rows)));
    ASSERT_TRUE(f.ok()) << dict << ": " << f.error().ToString();
    EXPECT_EQ(ReadAll(**f), rows);
  }
}

TEST_F(VectorFileTest, NpyWithNoRows) {
  auto f = WriteAndOpen("empty.npy", Npy(NpyDict("<f4", 0, 8), ""));
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ((*f)->size(), 0u);
  EXPECT_EQ((*f)->dim(), 8u);
  EXPECT_TRUE((*f)->ReadRows(0, 0, nullptr).ok());
}

TEST_F(VectorFileTest, NpyBadHeadersAreCorruption) {
  const std::string data(4 * 2 * 3, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False}", "missing one of the keys"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'extra': 1}",
       "unexpected key 'extra'"},
      {"{'descr': '<f4', 'fortran_order': maybe, 'shape': (3, 2)}", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [3, 2]}", "tuple of integers"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2)}", "tuple of integers"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)} x", "unexpected bytes"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (3, 2)}", "expected"},
  };
  for (const auto& [dict, why] : cases) {
    auto f = WriteAndOpen("bad.npy", Npy(dict, data));
    ASSERT_FALSE(f.ok()) << dict;
    EXPECT_TRUE(f.error().IsCorruption()) << dict << ": " << f.error().ToString();
    EXPECT_THAT(std::string(f.error().message()), HasSubstr(why)) << dict;
    EXPECT_THAT(std::string(f.error().message()), HasSubstr("bad.npy")) << dict;
  }
}

TEST_F(VectorFileTest, NpyBadMagicAndVersion) {
  auto f = WriteAndOpen("magic.npy", "PK\x03\x04 this is a zip file, not an array");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsCorruption());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("not a .npy file"));

  std::string v4 = Npy(NpyDict("<f4", 1, 1), std::string(4, '\0'));
  v4[6] = 4;
  f = WriteAndOpen("v4.npy", v4);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), StatusCode::kNotSupported) << f.error().ToString();
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("version 4.0"));

  f = WriteAndOpen("short.npy", std::string("\x93NUMPY\x01", 7));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsCorruption());
}

TEST_F(VectorFileTest, NpyFortranOrderRejected) {
  auto f = WriteAndOpen("f.npy", Npy(NpyDict("<f4", 3, 2, /*fortran=*/true), std::string(24, 0)));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), StatusCode::kNotSupported);
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("Fortran-order"));
}

TEST_F(VectorFileTest, NpyBigEndianAndOtherDtypesRejected) {
  for (const char* descr : {">f4", ">f8"}) {
    auto f = WriteAndOpen("be.npy", Npy(NpyDict(descr, 3, 2), std::string(48, 0)));
    ASSERT_FALSE(f.ok()) << descr;
    EXPECT_EQ(f.error().code(), StatusCode::kNotSupported);
    EXPECT_THAT(std::string(f.error().message()), HasSubstr("big-endian"));
  }
  for (const char* descr : {"<i4", "<f2", "<u2", "|b1", "<c8"}) {
    auto f = WriteAndOpen("dt.npy", Npy(NpyDict(descr, 3, 2), std::string(48, 0)));
    ASSERT_FALSE(f.ok()) << descr;
    EXPECT_EQ(f.error().code(), StatusCode::kNotSupported) << descr;
    EXPECT_THAT(std::string(f.error().message()), HasSubstr("is not supported")) << descr;
  }
  auto f = WriteAndOpen("rec.npy", Npy("{'descr': [('a', '<f4')], 'fortran_order': False, "
                                       "'shape': (3,)}",
                                       std::string(12, 0)));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), StatusCode::kNotSupported);
}

TEST_F(VectorFileTest, NpyShapeMustBeTwoDimensional) {
  for (const std::string shape : {"(6,)", "(1, 2, 3)", "()"}) {
    auto f = WriteAndOpen("s.npy",
                          Npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }",
                              std::string(24, 0)));
    ASSERT_FALSE(f.ok()) << shape;
    EXPECT_TRUE(f.error().IsInvalidArgument()) << f.error().ToString();
    EXPECT_THAT(std::string(f.error().message()), HasSubstr("expected a 2-D array"));
  }
  auto f = WriteAndOpen("d0.npy", Npy(NpyDict("<f4", 3, 0), ""));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsInvalidArgument());
}

TEST_F(VectorFileTest, NpyTruncatedOrOversizedData) {
  const std::string full = Npy(NpyDict("<f4", 10, 4), std::string(160, '\0'));
  auto f = WriteAndOpen("t.npy", full.substr(0, full.size() - 5));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsCorruption());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("truncated .npy file"));
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("t.npy"));
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("9 whole rows"));

  f = WriteAndOpen("h.npy", full.substr(0, 40));  // inside the header
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("truncated"));

  f = WriteAndOpen("x.npy", full + "junk");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsCorruption());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("4 bytes after the array"));
}

TEST_F(VectorFileTest, FvecsTruncated) {
  const std::string full = Fvecs(RandomRows(10, 8, 4), 8);
  auto f = WriteAndOpen("t.fvecs", full.substr(0, full.size() - 3));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsCorruption());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("truncated .fvecs file"));
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("t.fvecs"));
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("9 whole rows"));

  f = WriteAndOpen("tiny.bvecs", "\x08\x00");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsCorruption());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("truncated .bvecs file"));

  f = WriteAndOpen("empty.fvecs", "");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().IsInvalidArgument());
  EXPECT_THAT(std::string(f.error().message()), HasSubstr("is empty"));
}

TEST_F(VectorFileTest, FvecsBadFirstDimension) {
  for (int32_t d : {0, -3}) {
    std::string bytes;
    PutFixed32(&bytes, static_cast<uint32_t>(d));
    bytes += std::string(64, '\0');
    auto f = WriteAndOpen("z.fvecs", bytes);
    ASSERT_FALSE(f.ok()) << d;
    EXPECT_TRUE(f.error().IsCorruption());
    EXPECT_THAT(std::string(f.error().message()), HasSubstr("row 0 has dimension"));
  }
}

TEST_F(VectorFileTest, RowWithWrongDimensionIsCorruptionNamingTheRow) {
  const size_t n = 12, d = 6;
  std::string bytes = Fvecs(RandomRows(n, d, 5), d);
  EncodeFixed32(bytes.data() + 7 * (4 + 4 * d), 5);  // row 7 claims dimension 5
  auto f = WriteAndOpen("m.fvecs", bytes);
  ASSERT_TRUE(f.ok()) << f.error().ToString();  // the size still adds up
  std::vector<float> out(n * d);
  EXPECT_TRUE((*f)->ReadRows(0, 7, out.data()).ok());
  EXPECT_TRUE((*f)->ReadRows(8, 4, out.data()).ok());
  Status s = (*f)->ReadRows(4, 6, out.data());
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_THAT(std::string(s.message()), HasSubstr("m.fvecs"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("row 7 has dimension 5, expected 6"));

  std::string b = Bvecs(std::vector<uint8_t>(n * d, 1), d);
  EncodeFixed32(b.data() + 11 * (4 + d), 0xFFFFFFFF);  // row 11: -1
  f = WriteAndOpen("m.bvecs", b);
  ASSERT_TRUE(f.ok());
  s = (*f)->ReadRows(0, n, out.data());
  ASSERT_TRUE(s.IsCorruption());
  EXPECT_THAT(std::string(s.message()), HasSubstr("row 11 has dimension -1"));
}

TEST_F(VectorFileTest, ReadPastTheEndIsInvalidArgument) {
  auto f = WriteAndOpen("r.fvecs", Fvecs(RandomRows(4, 2, 6), 2));
  ASSERT_TRUE(f.ok());
  std::vector<float> out(16);
  EXPECT_TRUE((*f)->ReadRows(3, 2, out.data()).IsInvalidArgument());
  EXPECT_TRUE((*f)->ReadRows(5, 0, out.data()).IsInvalidArgument());
  EXPECT_TRUE(
      (*f)->ReadRows(1, std::numeric_limits<size_t>::max(), out.data()).IsInvalidArgument());
}

TEST_F(VectorFileTest, FileThatShrankAfterOpenIsCorruption) {
  const std::vector<float> rows = RandomRows(50, 16, 7);
  for (const std::string name : {"s.fvecs", "s.npy"}) {
    const std::string bytes =
        name == "s.npy" ? Npy(NpyDict("<f4", 50, 16), Bytes(rows)) : Fvecs(rows, 16);
    auto f = WriteAndOpen(name, bytes);
    ASSERT_TRUE(f.ok());
    WriteFile(Path(name), bytes.substr(0, bytes.size() / 2));
    std::vector<float> out(rows.size());
    Status s = (*f)->ReadRows(0, 50, out.data());
    ASSERT_TRUE(s.IsCorruption()) << name << ": " << s.ToString();
    EXPECT_THAT(std::string(s.message()), HasSubstr("truncated file"));
  }
}

// Rows larger than the 1 MiB conversion chunk, and many small rows spanning several chunks.
TEST_F(VectorFileTest, ReadsSpanningSeveralChunks) {
  {
    const size_t n = 300, d = 1000;  // 4 004-byte rows: about 262 per chunk
    const std::vector<float> rows = RandomRows(n, d, 8);
    auto f = WriteAndOpen("big.fvecs", Fvecs(rows, d));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(ReadAll(**f), rows);
  }
  {
    const size_t n = 2, d = 300000;  // one 1.2 MB row: larger than a chunk
    const std::vector<float> rows = RandomRows(n, d, 9);
    auto f = WriteAndOpen("wide.fvecs", Fvecs(rows, d));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(ReadAll(**f), rows);
  }
  {
    const size_t n = 3000, d = 64;
    std::vector<double> rows(n * d);
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<double>(i % 1000) / 7.0;
    auto f = WriteAndOpen("big.npy", Npy(NpyDict("<f8", n, d), Bytes(rows)));
    ASSERT_TRUE(f.ok());
    const std::vector<float> got = ReadAll(**f);
    for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(rows[i]));
  }
}

TEST_F(VectorFileTest, ConcurrentReadRows) {
  const size_t n = 2000, d = 24;
  const std::vector<float> rows = RandomRows(n, d, 10);
  WriteFile(Path("c.fvecs"), Fvecs(rows, d));
  WriteFile(Path("c.npy"), Npy(NpyDict("<f4", n, d), Bytes(rows)));
  for (const char* name : {"c.fvecs", "c.npy"}) {
    auto f = OpenVectorFile(nullptr, Path(name));
    ASSERT_TRUE(f.ok());
    const RowSource& src = **f;
    std::vector<std::thread> threads;
    std::vector<int> failures(8, 0);
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(static_cast<uint32_t>(t));
        std::vector<float> out(100 * d);
        for (int i = 0; i < 300; ++i) {
          const size_t begin = rng() % n;
          const size_t count = std::min<size_t>(1 + rng() % 100, n - begin);
          if (!src.ReadRows(begin, count, out.data()).ok() ||
              !std::equal(out.begin(), out.begin() + static_cast<long>(count * d),
                          rows.begin() + static_cast<long>(begin * d))) {
            ++failures[static_cast<size_t>(t)];
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (int fails : failures) EXPECT_EQ(fails, 0) << name;
  }
}

TEST(VectorFileSharedDataTest, SiftBaseMatchesTheTestLoader) {
  const std::string root = testing::SharedDataDir();
  const std::string path = root + "/sift-5k/base.fvecs";
  std::vector<float> expect;
  size_t d = 0;
  if (root.empty() || !testing::ReadVecs(path, 1u << 20, &expect, &d)) {
    GTEST_SKIP() << path << " not available";
  }
  auto f = OpenVectorFile(nullptr, path);
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ((*f)->dim(), d);
  EXPECT_EQ((*f)->size(), expect.size() / d);
  EXPECT_EQ(ReadAll(**f), expect);
}

}  // namespace
}  // namespace skeg::index::vamana
