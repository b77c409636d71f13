// Distance-kernel throughput: distances per second for every kernel, every SIMD level this CPU
// has, and d = 100, 128, 384, 512, 768, 1024. Each iteration scans one query against a batch
// of 4096 rows/codes that stays in L2 (or L3 for the widest rows), the way the flat scan calls
// the batch kernels; the "items_per_second" column is distances per second.
//
//   build/<dir>/bench/kernels/kernel_bench [--benchmark_filter=dot_f32]
//
// For the LUT kernels, d is the vector dimension and the code follows the quantizer that uses
// the kernel: lut8 = PQ with M = d/4 sub-quantizers, lut4 = TurboQuant tq4 (m = d_pad nibbles),
// lut2 = d 2-bit sub-codes, fastscan4 = 4-bit PQ fast scan with m = d/4 sub-codes.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "index/distance/distance.h"
#include "platform/cpu_features.h"

namespace skeg::index {
namespace {

constexpr size_t kRows = 4096;
constexpr int kDims[] = {100, 128, 384, 512, 768, 1024};

size_t PaddedDim(size_t d) {
  size_t p = 8;
  while (p < d) p *= 2;
  return p;
}

struct Data {
  std::vector<float> f32;
  std::vector<int8_t> i8;
  std::vector<uint8_t> u8;
  explicit Data(size_t n) : f32(n), i8(n), u8(n) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> f(-1, 1);
    std::uniform_int_distribution<int> b(0, 255);
    for (size_t i = 0; i < n; ++i) {
      f32[i] = f(rng);
      u8[i] = static_cast<uint8_t>(b(rng));
      i8[i] = static_cast<int8_t>(u8[i] - 128);
    }
  }
};

enum class Kernel {
  kL2F32,
  kDotF32,
  kDotI8,
  kL2I8,
  kDotF32U8,
  kL2F32U8,
  kHamming,
  kLut8,
  kLut4,
  kLut2,
  kFastScan4
};

void Run(benchmark::State& state, const DistanceKernels& k, Kernel kernel) {
  const size_t d = static_cast<size_t>(state.range(0));
  Data q(PaddedDim(d) * 256);  // large enough for every query / LUT below
  Data base(kRows * d);
  std::vector<float> outf(kRows);
  std::vector<uint32_t> outu(kRows);
  const size_t m8 = d / 4, m4 = PaddedDim(d), m2 = d, mfs = d / 4 + (d / 4) % 2;
  std::vector<uint8_t> blocks;
  if (kernel == Kernel::kFastScan4) {
    blocks.resize(FastScanBytes(kRows, mfs));
    PackFastScan4(base.u8.data(), kRows, mfs, (mfs + 1) / 2, blocks.data());
  }
  for (auto _ : state) {
    switch (kernel) {
      case Kernel::kL2F32:
        k.l2_sqr_f32_batch(q.f32.data(), base.f32.data(), kRows, d, outf.data());
        break;
      case Kernel::kDotF32:
        k.dot_f32_batch(q.f32.data(), base.f32.data(), kRows, d, outf.data());
        break;
      case Kernel::kDotI8:
        for (size_t i = 0; i < kRows; ++i)
          outu[i] = k.dot_i8(q.i8.data(), base.i8.data() + i * d, d);
        break;
      case Kernel::kL2I8:
        for (size_t i = 0; i < kRows; ++i) {
          outu[i] = k.l2_sqr_i8(q.i8.data(), base.i8.data() + i * d, d);
        }
        break;
      case Kernel::kDotF32U8:
        k.dot_f32_u8_batch(q.f32.data(), base.u8.data(), kRows, d, outf.data());
        break;
      case Kernel::kL2F32U8:
        k.l2_sqr_f32_u8_batch(q.f32.data(), q.f32.data(), base.u8.data(), kRows, d, outf.data());
        break;
      case Kernel::kHamming:
        k.hamming_batch(q.u8.data(), base.u8.data(), kRows, (d + 7) / 8, outu.data());
        break;
      case Kernel::kLut8:
        k.lut8_f32_batch(q.f32.data(), base.u8.data(), kRows, m8, m8, outf.data());
        break;
      case Kernel::kLut4:
        k.lut4_f32_batch(q.f32.data(), base.u8.data(), kRows, m4, m4 / 2 + 4, outf.data());
        break;
      case Kernel::kLut2:
        for (size_t i = 0; i < kRows; ++i) {
          outf[i] = k.lut2_f32(q.f32.data(), base.u8.data() + i * ((m2 + 3) / 4), m2);
        }
        break;
      case Kernel::kFastScan4:
        k.fastscan4_u8_batch(q.u8.data(), blocks.data(), kRows / kFastScanBlock, mfs, outu.data());
        break;
    }
    benchmark::DoNotOptimize(outf.data());
    benchmark::DoNotOptimize(outu.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRows);
}

void RegisterAll() {
  const platform::CpuFeatures& cpu = platform::DetectCpu();
  const SimdLevel best = platform::BestSimdLevel(cpu);
  const std::pair<const char*, Kernel> kernels[] = {
      {"l2_sqr_f32", Kernel::kL2F32},      {"dot_f32", Kernel::kDotF32},
      {"dot_i8", Kernel::kDotI8},          {"l2_sqr_i8", Kernel::kL2I8},
      {"dot_f32_u8", Kernel::kDotF32U8},   {"l2_sqr_f32_u8", Kernel::kL2F32U8},
      {"hamming", Kernel::kHamming},       {"lut8_f32", Kernel::kLut8},
      {"lut4_f32", Kernel::kLut4},         {"lut2_f32", Kernel::kLut2},
      {"fastscan4_u8", Kernel::kFastScan4}};
  for (const auto& [name, kernel] : kernels) {
    for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      if (level > best) continue;
      const DistanceKernels table = KernelsForLevel(level, cpu);
      const std::string label =
          std::string(name) + "/" + std::string(platform::SimdLevelName(level));
      auto* b = benchmark::RegisterBenchmark(
          label.c_str(), [table, kernel](benchmark::State& s) { Run(s, table, kernel); });
      for (int d : kDims) b->Arg(d);
      b->ArgName("d");
    }
  }
}

}  // namespace
}  // namespace skeg::index

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  skeg::index::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
