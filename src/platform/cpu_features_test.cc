#include "platform/cpu_features.h"

#include <iostream>

#include <gtest/gtest.h>

namespace skeg::platform {
namespace {

TEST(CpuFeaturesTest, DetectIsCachedAndPrintable) {
  const CpuFeatures& a = DetectCpu();
  const CpuFeatures& b = DetectCpu();
  EXPECT_EQ(&a, &b);
  std::cout << "cpu: " << a.ToString() << "; best SIMD level " << SimdLevelName(BestSimdLevel(a))
            << "\n";
  EXPECT_FALSE(a.ToString().empty());
}

#if defined(__x86_64__) || defined(__i386__)
// libgcc's __builtin_cpu_supports also checks XCR0 for AVX and AVX-512 state, so it must agree.
TEST(CpuFeaturesTest, MatchesCompilerBuiltins) {
  __builtin_cpu_init();
  const CpuFeatures& f = DetectCpu();
  EXPECT_EQ(f.sse42, __builtin_cpu_supports("sse4.2") != 0);
  EXPECT_EQ(f.avx2, __builtin_cpu_supports("avx2") != 0);
  EXPECT_EQ(f.fma, __builtin_cpu_supports("fma") != 0);
  EXPECT_EQ(f.bmi2, __builtin_cpu_supports("bmi2") != 0);
  EXPECT_EQ(f.avx512f, __builtin_cpu_supports("avx512f") != 0);
  EXPECT_EQ(f.avx512bw, __builtin_cpu_supports("avx512bw") != 0);
  EXPECT_EQ(f.avx512vl, __builtin_cpu_supports("avx512vl") != 0);
  EXPECT_EQ(f.avx512vnni, __builtin_cpu_supports("avx512vnni") != 0);
  EXPECT_EQ(f.avx512vpopcntdq, __builtin_cpu_supports("avx512vpopcntdq") != 0);
}
#endif

TEST(CpuFeaturesTest, ToStringListsFeaturesInOrder) {
  CpuFeatures f;
  EXPECT_EQ(f.ToString(), "none");
  f.sse42 = f.avx2 = f.fma = true;
  EXPECT_EQ(f.ToString(), "sse4.2 avx2 fma");
  f.avx512vpopcntdq = true;
  EXPECT_EQ(f.ToString(), "sse4.2 avx2 fma avx512vpopcntdq");
}

TEST(CpuFeaturesTest, BestSimdLevelNeedsAllRequiredFeatures) {
  CpuFeatures f;
  EXPECT_EQ(BestSimdLevel(f), SimdLevel::kScalar);
  f.avx2 = true;
  EXPECT_EQ(BestSimdLevel(f), SimdLevel::kScalar);  // no FMA
  f.fma = true;
  EXPECT_EQ(BestSimdLevel(f), SimdLevel::kAvx2);
  f.avx512f = f.avx512bw = true;
  EXPECT_EQ(BestSimdLevel(f), SimdLevel::kAvx2);  // no VL
  f.avx512vl = true;
  EXPECT_EQ(BestSimdLevel(f), SimdLevel::kAvx512);
}

TEST(CpuFeaturesTest, ParseAndName) {
  for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    auto parsed = ParseSimdLevel(SimdLevelName(l));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, l);
  }
  EXPECT_EQ(*ParseSimdLevel("AVX2"), SimdLevel::kAvx2);
  EXPECT_TRUE(ParseSimdLevel("sse").status().IsInvalidArgument());
  EXPECT_TRUE(ParseSimdLevel("").status().IsInvalidArgument());
}

TEST(CpuFeaturesTest, SelectSimdLevelCapsButNeverRaises) {
  CpuFeatures avx2_cpu;
  avx2_cpu.avx2 = avx2_cpu.fma = true;
  EXPECT_EQ(*SelectSimdLevel(avx2_cpu, ""), SimdLevel::kAvx2);
  EXPECT_EQ(*SelectSimdLevel(avx2_cpu, "scalar"), SimdLevel::kScalar);
  EXPECT_EQ(*SelectSimdLevel(avx2_cpu, "avx2"), SimdLevel::kAvx2);
  Result<SimdLevel> up = SelectSimdLevel(avx2_cpu, "avx512");
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(up.status().message().find("at most avx2"), std::string_view::npos);
  EXPECT_TRUE(SelectSimdLevel(avx2_cpu, "bogus").status().IsInvalidArgument());
}

}  // namespace
}  // namespace skeg::platform
