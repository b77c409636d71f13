// CPU feature detection and the SIMD level that distance kernels dispatch on.
//
// DetectCpu() runs CPUID once and caches the result. A feature is reported only when the CPU
// has it AND the OS saves the register state it needs (XGETBV): AVX-class features need the
// XMM/YMM state (XCR0 bits 1 and 2), AVX-512 features additionally the opmask and ZMM state
// (bits 5, 6 and 7). On non-x86 builds every feature is false.
//
// BestSimdLevel() maps features to the kernel tier; the server may cap it (for example from
// the SKEG_SIMD environment variable, read in server/main.cc) with SelectSimdLevel().
//
// Thread-safety: DetectCpu() is thread-safe; everything else is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skeg::platform {

struct CpuFeatures {
  bool sse42 = false;
  bool avx2 = false;
  bool fma = false;
  bool bmi2 = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512vpopcntdq = false;

  // Space-separated names of the present features in declaration order, e.g.
  // "sse4.2 avx2 fma bmi2"; "none" when nothing is present.
  std::string ToString() const;
};

// The features of the CPU this process runs on (detected on first call, then cached).
const CpuFeatures& DetectCpu();

// Kernel tiers, ordered: a higher value needs strictly more features.
enum class SimdLevel : uint8_t {
  kScalar = 0,
  kAvx2 = 1,    // AVX2 + FMA
  kAvx512 = 2,  // AVX-512 F + BW + VL (implies kAvx2 on every real CPU, but checked too)
};

// The highest level `cpu` supports.
SimdLevel BestSimdLevel(const CpuFeatures& cpu);

// "scalar", "avx2" or "avx512".
std::string_view SimdLevelName(SimdLevel level);

// Parses "scalar", "avx2" or "avx512" (ASCII case-insensitive).
// Errors: kInvalidArgument for anything else.
Result<SimdLevel> ParseSimdLevel(std::string_view name);

// The level to run at: BestSimdLevel(cpu) when `override_name` is empty, else the parsed
// override. Errors: kInvalidArgument for an unknown name; kNotSupported when the override is
// above what `cpu` supports (an override can only lower the level).
Result<SimdLevel> SelectSimdLevel(const CpuFeatures& cpu, std::string_view override_name);

}  // namespace skeg::platform
