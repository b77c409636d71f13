#include "platform/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cctype>
#include <string>

#include "common/ascii.h"

namespace skeg::platform {
namespace {

#if defined(__x86_64__) || defined(__i386__)

// XCR0 state-component bits (Intel SDM vol. 1, 13.1).
constexpr uint64_t kXcr0Sse = 1u << 1;
constexpr uint64_t kXcr0Avx = 1u << 2;
constexpr uint64_t kXcr0Opmask = 1u << 5;
constexpr uint64_t kXcr0ZmmHi256 = 1u << 6;
constexpr uint64_t kXcr0Hi16Zmm = 1u << 7;

// XGETBV(0) via inline asm, so this file needs no -mxsave.
uint64_t ReadXcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

CpuFeatures Detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(1, 0, &eax, &ebx, &ecx, &edx) == 0) return f;
  f.sse42 = (ecx & bit_SSE4_2) != 0;
  const bool has_fma = (ecx & bit_FMA) != 0;
  const bool has_avx = (ecx & bit_AVX) != 0;
  const bool osxsave = (ecx & bit_OSXSAVE) != 0;

  const uint64_t xcr0 = osxsave ? ReadXcr0() : 0;
  const bool os_ymm = has_avx && (xcr0 & (kXcr0Sse | kXcr0Avx)) == (kXcr0Sse | kXcr0Avx);
  const uint64_t zmm_mask = kXcr0Sse | kXcr0Avx | kXcr0Opmask | kXcr0ZmmHi256 | kXcr0Hi16Zmm;
  const bool os_zmm = os_ymm && (xcr0 & zmm_mask) == zmm_mask;
  f.fma = has_fma && os_ymm;

  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7 || __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return f;
  f.bmi2 = (ebx & bit_BMI2) != 0;  // general-purpose registers: no OS state needed
  f.avx2 = os_ymm && (ebx & bit_AVX2) != 0;
  f.avx512f = os_zmm && (ebx & bit_AVX512F) != 0;
  f.avx512bw = os_zmm && (ebx & bit_AVX512BW) != 0;
  f.avx512vl = os_zmm && (ebx & bit_AVX512VL) != 0;
  f.avx512vnni = os_zmm && (ecx & bit_AVX512VNNI) != 0;
  f.avx512vpopcntdq = os_zmm && (ecx & bit_AVX512VPOPCNTDQ) != 0;
  return f;
}

#else

CpuFeatures Detect() { return CpuFeatures{}; }

#endif

}  // namespace

std::string CpuFeatures::ToString() const {
  const struct {
    bool on;
    const char* name;
  } kNames[] = {
      {sse42, "sse4.2"},
      {avx2, "avx2"},
      {fma, "fma"},
      {bmi2, "bmi2"},
      {avx512f, "avx512f"},
      {avx512bw, "avx512bw"},
      {avx512vl, "avx512vl"},
      {avx512vnni, "avx512vnni"},
      {avx512vpopcntdq, "avx512vpopcntdq"},
  };
  std::string out;
  for (const auto& n : kNames) {
    if (!n.on) continue;
    if (!out.empty()) out += ' ';
    out += n.name;
  }
  return out.empty() ? "none" : out;
}

const CpuFeatures& DetectCpu() {
  static const CpuFeatures features = Detect();
  return features;
}

SimdLevel BestSimdLevel(const CpuFeatures& cpu) {
  const bool avx2 = cpu.avx2 && cpu.fma;
  if (avx2 && cpu.avx512f && cpu.avx512bw && cpu.avx512vl) return SimdLevel::kAvx512;
  if (avx2) return SimdLevel::kAvx2;
  return SimdLevel::kScalar;
}

std::string_view SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

Result<SimdLevel> ParseSimdLevel(std::string_view name) {
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (EqualsIgnoreCase(name, SimdLevelName(level))) return level;
  }
  return Status::InvalidArgument("unknown SIMD level \"" + std::string(name) +
                                 "\" (expected scalar, avx2 or avx512)");
}

Result<SimdLevel> SelectSimdLevel(const CpuFeatures& cpu, std::string_view override_name) {
  const SimdLevel best = BestSimdLevel(cpu);
  if (override_name.empty()) return best;
  SKEG_ASSIGN_OR_RETURN(SimdLevel requested, ParseSimdLevel(override_name));
  if (requested > best) {
    return Status::NotSupported("SIMD level " + std::string(SimdLevelName(requested)) +
                                " requested but this CPU supports at most " +
                                std::string(SimdLevelName(best)) + " (" + cpu.ToString() + ")");
  }
  return requested;
}

}  // namespace skeg::platform
