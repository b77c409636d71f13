// AVX-512 VNNI kernels (compiled with the AVX-512 flags plus -mavx512vnni; called only when
// DetectCpu() reports avx512vnni): int8 dot and squared L2 with VPDPWSSD, which fuses the 16-bit
// multiply, pairwise add and 32-bit accumulate of the plain AVX-512BW path.
// GCC 12's _mm512_undefined_*() (used inside setzero/reduce/cvt intrinsics) self-initialises a
// variable and trips -Wuninitialized (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "index/distance/internal/kernel_tables.h"

namespace skeg::index::internal {
namespace {

inline __m512i LoadI8AsI16(const int8_t* p) {
  return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512i LoadI8AsI16Masked(const int8_t* p, size_t r) {
  const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << r) - 1);
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t d) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= d; i += 64) {
    s0 = _mm512_dpwssd_epi32(s0, LoadI8AsI16(a + i), LoadI8AsI16(b + i));
    s1 = _mm512_dpwssd_epi32(s1, LoadI8AsI16(a + i + 32), LoadI8AsI16(b + i + 32));
  }
  for (; i + 32 <= d; i += 32) s0 = _mm512_dpwssd_epi32(s0, LoadI8AsI16(a + i), LoadI8AsI16(b + i));
  if (i < d) {
    s1 = _mm512_dpwssd_epi32(s1, LoadI8AsI16Masked(a + i, d - i), LoadI8AsI16Masked(b + i, d - i));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t d) {
  __m512i s = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m512i t = _mm512_sub_epi16(LoadI8AsI16(a + i), LoadI8AsI16(b + i));
    s = _mm512_dpwssd_epi32(s, t, t);
  }
  if (i < d) {
    const __m512i t =
        _mm512_sub_epi16(LoadI8AsI16Masked(a + i, d - i), LoadI8AsI16Masked(b + i, d - i));
    s = _mm512_dpwssd_epi32(s, t, t);
  }
  return _mm512_reduce_add_epi32(s);
}

}  // namespace

void FillAvx512VnniKernels(DistanceKernels* k) {
  k->dot_i8 = DotI8;
  k->l2_sqr_i8 = L2SqrI8;
}

}  // namespace skeg::index::internal
