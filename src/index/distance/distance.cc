#include "index/distance/distance.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/ascii.h"
#include "index/distance/internal/kernel_tables.h"

namespace skeg::index {
namespace {

struct ActiveTable {
  DistanceKernels kernels{};
  SimdLevel level = SimdLevel::kScalar;
  std::string_view name = "scalar";
};

std::string_view LevelName(SimdLevel level, const platform::CpuFeatures& cpu) {
  if (level != SimdLevel::kAvx512) return platform::SimdLevelName(level);
  if (cpu.avx512vnni && cpu.avx512vpopcntdq) return "avx512+vnni+vpopcntdq";
  if (cpu.avx512vnni) return "avx512+vnni";
  if (cpu.avx512vpopcntdq) return "avx512+vpopcntdq";
  return "avx512";
}

// Selected on first use (thread-safe static initialisation); SetSimdLevel() rewrites it at
// startup, before other threads run.
ActiveTable& Active() {
  static ActiveTable table = [] {
    ActiveTable t;
    const platform::CpuFeatures& cpu = platform::DetectCpu();
    t.level = platform::BestSimdLevel(cpu);
    t.kernels = KernelsForLevel(t.level, cpu);
    t.name = LevelName(t.level, cpu);
    return t;
  }();
  return table;
}

}  // namespace

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2:
      return "l2";
    case Metric::kInnerProduct:
      return "ip";
    case Metric::kCosine:
      return "cosine";
  }
  return "unknown";
}

Result<Metric> ParseMetric(std::string_view name) {
  if (EqualsIgnoreCase(name, "l2")) return Metric::kL2;
  if (EqualsIgnoreCase(name, "ip")) return Metric::kInnerProduct;
  if (EqualsIgnoreCase(name, "cosine")) return Metric::kCosine;
  return Status::InvalidArgument("unknown metric '" + std::string(name) +
                                 "' (expected l2, ip or cosine)");
}

DistanceKernels KernelsForLevel(SimdLevel level, const platform::CpuFeatures& cpu) {
  SKEG_CHECK(platform::BestSimdLevel(cpu) >= level);
  DistanceKernels k{};
  internal::FillScalarKernels(&k);
#if defined(SKEG_INDEX_X86_KERNELS)
  if (level >= SimdLevel::kAvx2) internal::FillAvx2Kernels(&k);
  if (level >= SimdLevel::kAvx512) {
    internal::FillAvx512Kernels(&k);
    if (cpu.avx512vnni) internal::FillAvx512VnniKernels(&k);
    if (cpu.avx512vpopcntdq) internal::FillAvx512PopcntKernels(&k);
  }
#endif
  return k;
}

const DistanceKernels& Kernels() { return Active().kernels; }

Status SetSimdLevel(SimdLevel level) {
  const platform::CpuFeatures& cpu = platform::DetectCpu();
  if (level > platform::BestSimdLevel(cpu)) {
    return Status::NotSupported("SIMD level " + std::string(platform::SimdLevelName(level)) +
                                " is not supported by this CPU (features: " + cpu.ToString() + ")");
  }
  ActiveTable& t = Active();
  t.kernels = KernelsForLevel(level, cpu);
  t.level = level;
  t.name = LevelName(level, cpu);
  return Status::Ok();
}

SimdLevel ActiveSimdLevel() { return Active().level; }
std::string_view ActiveSimdLevelName() { return Active().name; }

float NormF32(const float* a, size_t d) { return std::sqrt(Kernels().dot_f32(a, a, d)); }

float ExactMetricDistance(Metric metric, const float* q, const float* x, size_t d) {
  const DistanceKernels& k = Kernels();
  switch (metric) {
    case Metric::kL2:
      return k.l2_sqr_f32(q, x, d);
    case Metric::kInnerProduct:
      return -k.dot_f32(q, x, d);
    case Metric::kCosine: {
      const float norm = NormF32(x, d);
      return norm > 0 ? -(k.dot_f32(q, x, d) / norm) : 0.0f;
    }
  }
  return 0;
}

float NormalizeF32(float* a, size_t d) {
  const float norm = NormF32(a, d);
  if (norm > 0) {
    const float inv = 1.0f / norm;
    for (size_t i = 0; i < d; ++i) a[i] *= inv;
  }
  return norm;
}

void PackFastScan4(const uint8_t* codes, size_t n, size_t m, size_t code_bytes, uint8_t* out) {
  SKEG_CHECK(m % 2 == 0);
  const size_t nblocks = (n + kFastScanBlock - 1) / kFastScanBlock;
  std::memset(out, 0, nblocks * m * 16);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* blk = out + (i / kFastScanBlock) * m * 16;
    const size_t j = i % kFastScanBlock;
    const uint8_t* code = codes + i * code_bytes;
    for (size_t k = 0; k < m; ++k) {
      const uint8_t sub = (code[k >> 1] >> ((k & 1) * 4)) & 0xf;
      uint8_t& byte = blk[(k >> 1) * 32 + (k & 1) * 16 + (j & 15)];
      byte = static_cast<uint8_t>(byte | (j < 16 ? sub : sub << 4));
    }
  }
}

void QuantizeLut(const float* lut, size_t m, uint8_t* lut_u8, float* bias, float* delta) {
  float max_span = 0;
  float b = 0;
  for (size_t k = 0; k < m; ++k) {
    const float* row = lut + k * 16;
    const float lo = *std::min_element(row, row + 16);
    const float hi = *std::max_element(row, row + 16);
    max_span = std::max(max_span, hi - lo);
    b += lo;
  }
  const float dl = max_span > 0 ? max_span / 255.0f : 1.0f;
  const float inv = 1.0f / dl;
  for (size_t k = 0; k < m; ++k) {
    const float* row = lut + k * 16;
    const float lo = *std::min_element(row, row + 16);
    for (size_t c = 0; c < 16; ++c) {
      const float v = std::nearbyint((row[c] - lo) * inv);
      lut_u8[k * 16 + c] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
    }
  }
  *bias = b;
  *delta = dl;
}

}  // namespace skeg::index
