// Every kernel of every SIMD level this CPU has, against the scalar reference: the f32, int8,
// f32 x u8 and Hamming kernels over every dimension 1..2049, the LUT kernels over 1..300 and a
// sample of awkward larger sizes up to 2049 (tails of every length for 8-, 16-, 32- and 64-wide
// loops). Integer kernels must match exactly.
//
// Floating-point tolerance. A level changes only the order of the additions (several partial
// sums instead of one running sum) and whether a product is rounded before the add (FMA). For a
// sum of d terms t_i, each of which is computed with at most 2 roundings of its own, any
// evaluation order satisfies |computed - exact| <= gamma_{d+2} * sum |t_i| with
// gamma_n = n*u/(1 - n*u) and u = 2^-24 (Higham, "Accuracy and Stability of Numerical
// Algorithms", 2nd ed., eq. 3.4 and section 4.2). The scalar reference and the SIMD level each
// obey that bound, so they differ by at most 2 * gamma_{d+2} * sum |t_i|, which for d <= 2049 is
// below (d + 3) * FLT_EPSILON * sum |t_i| (FLT_EPSILON = 2u). That is the bound checked below;
// it is loose for random data (errors cancel) but it is the one that holds for every input.
// The subtraction in (a_i - b_i)^2 is one IEEE operation identical in every level.
#include "index/distance/distance.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace skeg::index {
namespace {

using platform::CpuFeatures;
using platform::DetectCpu;

// Every dimension 1..2049 (odd and even, every tail length of every loop width).
std::vector<size_t> AllDims() {
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 2049; ++d) dims.push_back(d);
  return dims;
}

// 1..300 fully, then a sample up to 2049 (for the LUT kernels, whose tables grow with m * 256).
std::vector<size_t> TestDims() {
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 300; ++d) dims.push_back(d);
  for (size_t d : {383, 384, 385, 511, 512, 513, 767, 768, 769, 1000, 1023, 1024, 1025, 1536, 2047,
                   2048, 2049}) {
    dims.push_back(d);
  }
  return dims;
}

double Tol(size_t d, double sum_abs) {
  return (static_cast<double>(d) + 3) * FLT_EPSILON * sum_abs;
}

class DistanceLevelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    CpuFeatures cpu = DetectCpu();
    const std::string& p = GetParam();
    SimdLevel level = SimdLevel::kScalar;
    if (p.rfind("avx2", 0) == 0) level = SimdLevel::kAvx2;
    if (p.rfind("avx512", 0) == 0) level = SimdLevel::kAvx512;
    if (platform::BestSimdLevel(cpu) < level) GTEST_SKIP() << "CPU lacks " << p;
    // "avx512" alone: the F/BW/VL kernels, with the VNNI / VPOPCNTDQ variants switched off.
    const bool wants_vnni = p.find("vnni") != std::string::npos;
    const bool wants_popcnt = p.find("vpopcntdq") != std::string::npos;
    if ((wants_vnni && !cpu.avx512vnni) || (wants_popcnt && !cpu.avx512vpopcntdq)) {
      GTEST_SKIP() << "CPU lacks " << p;
    }
    cpu.avx512vnni = wants_vnni;
    cpu.avx512vpopcntdq = wants_popcnt;
    k_ = KernelsForLevel(level, cpu);
    ref_ = KernelsForLevel(SimdLevel::kScalar, cpu);
  }

  DistanceKernels k_{};
  DistanceKernels ref_{};
  std::mt19937 rng_{12345};
};

template <typename T>
std::vector<T> RandomInts(std::mt19937& rng, size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

std::vector<float> RandomFloats(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST_P(DistanceLevelTest, F32MatchesScalar) {
  for (size_t d : AllDims()) {
    // Offset by one float so that nothing is 32- or 64-byte aligned.
    auto a = RandomFloats(rng_, d + 1, -2, 2);
    auto b = RandomFloats(rng_, d + 1, -2, 2);
    const float* pa = a.data() + 1;
    const float* pb = b.data() + 1;
    double l2_abs = 0, dot_abs = 0;
    for (size_t i = 0; i < d; ++i) {
      const double t = double{pa[i]} - pb[i];
      l2_abs += t * t;
      dot_abs += std::fabs(double{pa[i]} * pb[i]);
    }
    EXPECT_NEAR(k_.l2_sqr_f32(pa, pb, d), ref_.l2_sqr_f32(pa, pb, d), Tol(d, l2_abs)) << d;
    EXPECT_NEAR(k_.dot_f32(pa, pb, d), ref_.dot_f32(pa, pb, d), Tol(d, dot_abs)) << d;
  }
}

TEST_P(DistanceLevelTest, F32BatchMatchesSingle) {
  for (size_t d : {1, 7, 16, 33, 100, 129, 768, 769}) {
    const size_t n = 37;
    auto q = RandomFloats(rng_, d, -1, 1);
    auto base = RandomFloats(rng_, n * d, -1, 1);
    std::vector<float> l2(n), dot(n);
    k_.l2_sqr_f32_batch(q.data(), base.data(), n, d, l2.data());
    k_.dot_f32_batch(q.data(), base.data(), n, d, dot.data());
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(l2[i], k_.l2_sqr_f32(q.data(), base.data() + i * d, d));
      EXPECT_EQ(dot[i], k_.dot_f32(q.data(), base.data() + i * d, d));
    }
  }
}

TEST_P(DistanceLevelTest, Int8MatchesScalarExactly) {
  for (size_t d : AllDims()) {
    auto a = RandomInts<int8_t>(rng_, d + 1, -128, 127);
    auto b = RandomInts<int8_t>(rng_, d + 1, -128, 127);
    EXPECT_EQ(k_.dot_i8(a.data() + 1, b.data() + 1, d), ref_.dot_i8(a.data() + 1, b.data() + 1, d));
    EXPECT_EQ(k_.l2_sqr_i8(a.data() + 1, b.data() + 1, d),
              ref_.l2_sqr_i8(a.data() + 1, b.data() + 1, d));
  }
  // Extremes: -128 * -128 and (127 - -128)^2 at the largest accepted dimension.
  std::vector<int8_t> lo(kMaxInt8Dim, -128), hi(kMaxInt8Dim, 127);
  EXPECT_EQ(k_.dot_i8(lo.data(), lo.data(), kMaxInt8Dim),
            16384 * static_cast<int32_t>(kMaxInt8Dim));
  EXPECT_EQ(k_.l2_sqr_i8(lo.data(), hi.data(), kMaxInt8Dim),
            65025 * static_cast<int32_t>(kMaxInt8Dim));
}

TEST_P(DistanceLevelTest, F32U8MatchesScalar) {
  for (size_t d : AllDims()) {
    auto q = RandomFloats(rng_, d + 1, -300, 300);
    auto w = RandomFloats(rng_, d + 1, 0, 1e-3f);
    auto c = RandomInts<uint8_t>(rng_, d + 1, 0, 255);
    const float* pq = q.data() + 1;
    const float* pw = w.data() + 1;
    const uint8_t* pc = c.data() + 1;
    double dot_abs = 0, l2_abs = 0;
    for (size_t i = 0; i < d; ++i) {
      dot_abs += std::fabs(double{pq[i]} * pc[i]);
      const double t = double{pq[i]} - pc[i];
      l2_abs += pw[i] * t * t;
    }
    EXPECT_NEAR(k_.dot_f32_u8(pq, pc, d), ref_.dot_f32_u8(pq, pc, d), Tol(d, dot_abs)) << d;
    EXPECT_NEAR(k_.l2_sqr_f32_u8(pq, pw, pc, d), ref_.l2_sqr_f32_u8(pq, pw, pc, d), Tol(d, l2_abs))
        << d;
  }
  const size_t d = 129, n = 21;
  auto q = RandomFloats(rng_, d, -1, 1);
  auto w = RandomFloats(rng_, d, 0, 1);
  auto codes = RandomInts<uint8_t>(rng_, n * d, 0, 255);
  std::vector<float> dot(n), l2(n);
  k_.dot_f32_u8_batch(q.data(), codes.data(), n, d, dot.data());
  k_.l2_sqr_f32_u8_batch(q.data(), w.data(), codes.data(), n, d, l2.data());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(dot[i], k_.dot_f32_u8(q.data(), codes.data() + i * d, d));
    EXPECT_EQ(l2[i], k_.l2_sqr_f32_u8(q.data(), w.data(), codes.data() + i * d, d));
  }
}

TEST_P(DistanceLevelTest, HammingMatchesScalarExactly) {
  // nbytes covers 1..2049 bytes (8..16392 bits).
  for (size_t nbytes : AllDims()) {
    auto a = RandomInts<uint8_t>(rng_, nbytes + 1, 0, 255);
    auto b = RandomInts<uint8_t>(rng_, nbytes + 1, 0, 255);
    EXPECT_EQ(k_.hamming(a.data() + 1, b.data() + 1, nbytes),
              ref_.hamming(a.data() + 1, b.data() + 1, nbytes))
        << nbytes;
  }
  std::vector<uint8_t> zeros(300, 0), ones(300, 0xff);
  EXPECT_EQ(k_.hamming(zeros.data(), ones.data(), 300), 2400u);
  const size_t nbytes = 13, n = 40;
  auto q = RandomInts<uint8_t>(rng_, nbytes, 0, 255);
  auto codes = RandomInts<uint8_t>(rng_, n * nbytes, 0, 255);
  std::vector<uint32_t> out(n);
  k_.hamming_batch(q.data(), codes.data(), n, nbytes, out.data());
  for (size_t i = 0; i < n; ++i)
    EXPECT_EQ(out[i], ref_.hamming(q.data(), codes.data() + i * nbytes, nbytes));
}

TEST_P(DistanceLevelTest, LutF32MatchesScalar) {
  for (size_t m : TestDims()) {
    auto lut8 = RandomFloats(rng_, m * 256, -1, 1);
    auto lut4 = RandomFloats(rng_, m * 16, -1, 1);
    auto lut2 = RandomFloats(rng_, m * 4, -1, 1);
    auto code = RandomInts<uint8_t>(rng_, m + 1, 0, 255);
    const uint8_t* pc = code.data() + 1;
    double abs8 = 0, abs4 = 0, abs2 = 0;
    for (size_t j = 0; j < m; ++j) {
      abs8 += std::fabs(lut8[j * 256 + pc[j]]);
      abs4 += std::fabs(lut4[j * 16 + ((pc[j / 2] >> ((j % 2) * 4)) & 15)]);
      abs2 += std::fabs(lut2[j * 4 + ((pc[j / 4] >> ((j % 4) * 2)) & 3)]);
    }
    EXPECT_NEAR(k_.lut8_f32(lut8.data(), pc, m), ref_.lut8_f32(lut8.data(), pc, m), Tol(m, abs8));
    EXPECT_NEAR(k_.lut4_f32(lut4.data(), pc, m), ref_.lut4_f32(lut4.data(), pc, m), Tol(m, abs4));
    EXPECT_NEAR(k_.lut2_f32(lut2.data(), pc, m), ref_.lut2_f32(lut2.data(), pc, m), Tol(m, abs2));
  }
  const size_t m = 24, n = 9, code_bytes = m + 4;
  auto lut8 = RandomFloats(rng_, m * 256, -1, 1);
  auto lut4 = RandomFloats(rng_, m * 16, -1, 1);
  auto codes = RandomInts<uint8_t>(rng_, n * code_bytes, 0, 255);
  std::vector<float> o8(n), o4(n);
  k_.lut8_f32_batch(lut8.data(), codes.data(), n, m, code_bytes, o8.data());
  k_.lut4_f32_batch(lut4.data(), codes.data(), n, m, code_bytes, o4.data());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(o8[i], k_.lut8_f32(lut8.data(), codes.data() + i * code_bytes, m));
    EXPECT_EQ(o4[i], k_.lut4_f32(lut4.data(), codes.data() + i * code_bytes, m));
  }
}

TEST_P(DistanceLevelTest, FastScanMatchesScalarExactly) {
  // m sub-codes (even), n codes: exercise partial blocks, odd group counts (AVX-512 tail) and
  // more than 128 groups (the uint16 -> uint32 widening).
  for (size_t m : {2, 4, 6, 8, 30, 32, 34, 100, 256, 258, 512, 1024}) {
    for (size_t n : {1, 31, 32, 33, 100}) {
      const size_t code_bytes = m / 2;
      auto codes = RandomInts<uint8_t>(rng_, n * code_bytes, 0, 255);
      auto lut = RandomInts<uint8_t>(rng_, m * 16, 0, 255);
      std::vector<uint8_t> blocks(FastScanBytes(n, m));
      PackFastScan4(codes.data(), n, m, code_bytes, blocks.data());
      const size_t nblocks = (n + 31) / 32;
      std::vector<uint32_t> got(nblocks * 32), want(nblocks * 32);
      k_.fastscan4_u8_batch(lut.data(), blocks.data(), nblocks, m, got.data());
      ref_.fastscan4_u8_batch(lut.data(), blocks.data(), nblocks, m, want.data());
      EXPECT_EQ(got, want) << "m=" << m << " n=" << n;
      // And the reference against the plain definition on the unpacked codes.
      for (size_t i = 0; i < n; ++i) {
        uint32_t s = 0;
        for (size_t k = 0; k < m; ++k)
          s += lut[k * 16 + ((codes[i * code_bytes + k / 2] >> ((k % 2) * 4)) & 15)];
        ASSERT_EQ(want[i], s) << "m=" << m << " i=" << i;
      }
    }
  }
}

TEST_P(DistanceLevelTest, ZeroDimensionIsZero) {
  const float f = 1;
  const int8_t i = 1;
  const uint8_t u = 1;
  EXPECT_EQ(k_.l2_sqr_f32(&f, &f, 0), 0);
  EXPECT_EQ(k_.dot_f32(&f, &f, 0), 0);
  EXPECT_EQ(k_.dot_i8(&i, &i, 0), 0);
  EXPECT_EQ(k_.l2_sqr_i8(&i, &i, 0), 0);
  EXPECT_EQ(k_.dot_f32_u8(&f, &u, 0), 0);
  EXPECT_EQ(k_.hamming(&u, &u, 0), 0u);
  EXPECT_EQ(k_.lut4_f32(&f, &u, 0), 0);
}

INSTANTIATE_TEST_SUITE_P(Levels, DistanceLevelTest,
                         ::testing::Values("scalar", "avx2", "avx512", "avx512_vnni",
                                           "avx512_vpopcntdq", "avx512_vnni_vpopcntdq"),
                         [](const auto& p) { return p.param; });

TEST(DistanceDispatchTest, ActiveLevelIsBestAndCanBeLowered) {
  const SimdLevel best = platform::BestSimdLevel(DetectCpu());
  EXPECT_EQ(ActiveSimdLevel(), best);
  EXPECT_FALSE(ActiveSimdLevelName().empty());
  ASSERT_TRUE(SetSimdLevel(SimdLevel::kScalar).ok());
  EXPECT_EQ(ActiveSimdLevel(), SimdLevel::kScalar);
  EXPECT_EQ(ActiveSimdLevelName(), "scalar");
  const float a[3] = {1, 2, 3};
  EXPECT_EQ(Kernels().dot_f32(a, a, 3), 14.0f);
  if (best < SimdLevel::kAvx512) {
    EXPECT_EQ(SetSimdLevel(SimdLevel::kAvx512).code(), StatusCode::kNotSupported);
  }
  ASSERT_TRUE(SetSimdLevel(best).ok());
  EXPECT_EQ(ActiveSimdLevel(), best);
}

TEST(DistanceHelpersTest, MetricNamesRoundTrip) {
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    auto parsed = ParseMetric(MetricName(m));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(*ParseMetric("COSINE"), Metric::kCosine);
  auto bad = ParseMetric("hamming");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
}

TEST(DistanceHelpersTest, NormalizeMakesUnitVectors) {
  std::vector<float> v = {3, 4};
  EXPECT_FLOAT_EQ(NormalizeF32(v.data(), 2), 5.0f);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> z = {0, 0, 0};
  EXPECT_EQ(NormalizeF32(z.data(), 3), 0.0f);
  EXPECT_EQ(z[0], 0.0f);
}

TEST(DistanceHelpersTest, QuantizedLutApproximatesFloatLut) {
  std::mt19937 rng(7);
  const size_t m = 64, n = 64;
  auto lut = RandomFloats(rng, m * 16, -3, 5);
  std::vector<uint8_t> lut_u8(m * 16);
  float bias = 0, delta = 0;
  QuantizeLut(lut.data(), m, lut_u8.data(), &bias, &delta);
  auto codes = RandomInts<uint8_t>(rng, n * m / 2, 0, 255);
  std::vector<uint8_t> blocks(FastScanBytes(n, m));
  PackFastScan4(codes.data(), n, m, m / 2, blocks.data());
  std::vector<uint32_t> sums(n);
  Kernels().fastscan4_u8_batch(lut_u8.data(), blocks.data(), n / 32, m, sums.data());
  for (size_t i = 0; i < n; ++i) {
    const float exact = Kernels().lut4_f32(lut.data(), codes.data() + i * m / 2, m);
    // Each entry is rounded to the nearest multiple of delta: at most delta/2 per sub-code.
    EXPECT_NEAR(bias + delta * static_cast<float>(sums[i]), exact, m * delta / 2 + 1e-3f);
  }
}

}  // namespace
}  // namespace skeg::index
