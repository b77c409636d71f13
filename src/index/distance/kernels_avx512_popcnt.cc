// AVX-512 VPOPCNTDQ kernels (compiled with the AVX-512 flags plus -mavx512vpopcntdq; called only
// when DetectCpu() reports avx512vpopcntdq): Hamming distance with one VPOPCNTQ per 64 bytes.
// GCC 12's _mm512_undefined_*() (used inside setzero/reduce/cvt intrinsics) self-initialises a
// variable and trips -Wuninitialized (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "index/distance/internal/batch_loops.h"
#include "index/distance/internal/kernel_tables.h"

namespace skeg::index::internal {
namespace {

uint32_t Hamming(const uint8_t* a, const uint8_t* b, size_t nbytes) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 128 <= nbytes; i += 128) {
    s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i),
                                                                   _mm512_loadu_si512(b + i))));
    s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(_mm512_xor_si512(
                                  _mm512_loadu_si512(a + i + 64), _mm512_loadu_si512(b + i + 64))));
  }
  for (; i + 64 <= nbytes; i += 64) {
    s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i),
                                                                   _mm512_loadu_si512(b + i))));
  }
  if (i < nbytes) {
    const __mmask64 m = (~uint64_t{0}) >> (64 - (nbytes - i));
    s1 = _mm512_add_epi64(s1,
                          _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i),
                                                               _mm512_maskz_loadu_epi8(m, b + i))));
  }
  return static_cast<uint32_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(s0, s1)));
}

}  // namespace

void FillAvx512PopcntKernels(DistanceKernels* k) {
  k->hamming = Hamming;
  k->hamming_batch = BatchHamming<Hamming>;
}

}  // namespace skeg::index::internal
