// AVX-512 F/BW/VL kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx2 -mfma; called only
// when DetectCpu() reports F, BW and VL). Tails use masked loads, which never fault on the
// masked-off bytes, so no alignment and no padding are needed.
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

inline __mmask16 Mask16(size_t r) { return static_cast<__mmask16>((1u << r) - 1); }

float L2SqrF32(const float* a, const float* b, size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= d; i += 64) {
    const __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    const __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    const __m512 t2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    const __m512 t3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    s0 = _mm512_fmadd_ps(t0, t0, s0);
    s1 = _mm512_fmadd_ps(t1, t1, s1);
    s2 = _mm512_fmadd_ps(t2, t2, s2);
    s3 = _mm512_fmadd_ps(t3, t3, s3);
  }
  for (; i + 16 <= d; i += 16) {
    const __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(t, t, s0);
  }
  if (i < d) {
    const __mmask16 m = Mask16(d - i);
    const __m512 t =
        _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(t, t, s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float DotF32(const float* a, const float* b, size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= d; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= d; i += 16) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  }
  if (i < d) {
    const __mmask16 m = Mask16(d - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

inline __m512i LoadI8AsI16(const int8_t* p) {
  return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512i LoadI8AsI16Masked(const int8_t* p, size_t r) {
  const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << r) - 1);
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t d) {
  __m512i s = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s = _mm512_add_epi32(s, _mm512_madd_epi16(LoadI8AsI16(a + i), LoadI8AsI16(b + i)));
  }
  if (i < d) {
    s = _mm512_add_epi32(
        s, _mm512_madd_epi16(LoadI8AsI16Masked(a + i, d - i), LoadI8AsI16Masked(b + i, d - i)));
  }
  return _mm512_reduce_add_epi32(s);
}

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t d) {
  __m512i s = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m512i t = _mm512_sub_epi16(LoadI8AsI16(a + i), LoadI8AsI16(b + i));
    s = _mm512_add_epi32(s, _mm512_madd_epi16(t, t));
  }
  if (i < d) {
    const __m512i t =
        _mm512_sub_epi16(LoadI8AsI16Masked(a + i, d - i), LoadI8AsI16Masked(b + i, d - i));
    s = _mm512_add_epi32(s, _mm512_madd_epi16(t, t));
  }
  return _mm512_reduce_add_epi32(s);
}

inline __m512 LoadU8AsF32(const uint8_t* p) {
  return _mm512_cvtepi32_ps(
      _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 LoadU8AsF32Masked(const uint8_t* p, __mmask16 m) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

float DotF32U8(const float* q, const uint8_t* c, size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LoadU8AsF32(c + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), LoadU8AsF32(c + i + 16), s1);
  }
  for (; i + 16 <= d; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LoadU8AsF32(c + i), s0);
  if (i < d) {
    const __mmask16 m = Mask16(d - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), LoadU8AsF32Masked(c + i, m), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

float L2SqrF32U8(const float* q, const float* w, const uint8_t* c, size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), LoadU8AsF32(c + i));
    const __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), LoadU8AsF32(c + i + 16));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(t0, t0), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_mul_ps(t1, t1), s1);
  }
  for (; i + 16 <= d; i += 16) {
    const __m512 t = _mm512_sub_ps(_mm512_loadu_ps(q + i), LoadU8AsF32(c + i));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(t, t), s0);
  }
  if (i < d) {
    const __mmask16 m = Mask16(d - i);
    const __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + i), LoadU8AsF32Masked(c + i, m));
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_mul_ps(t, t), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// PSHUFB nibble popcount (Mula et al. 2018) on 64 bytes, summed per 64-bit lane with PSADBW.
inline __m512i PopcountSad(__m512i v) {
  const __m512i table =
      _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
  const __m512i low = _mm512_set1_epi8(0x0f);
  const __m512i lo = _mm512_and_si512(v, low);
  const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
  const __m512i cnt =
      _mm512_add_epi8(_mm512_shuffle_epi8(table, lo), _mm512_shuffle_epi8(table, hi));
  return _mm512_sad_epu8(cnt, _mm512_setzero_si512());
}

uint32_t Hamming(const uint8_t* a, const uint8_t* b, size_t nbytes) {
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= nbytes; i += 64) {
    acc = _mm512_add_epi64(
        acc, PopcountSad(_mm512_xor_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i))));
  }
  if (i < nbytes) {
    const __mmask64 m = (~uint64_t{0}) >> (64 - (nbytes - i));
    acc = _mm512_add_epi64(acc, PopcountSad(_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i),
                                                             _mm512_maskz_loadu_epi8(m, b + i))));
  }
  return static_cast<uint32_t>(_mm512_reduce_add_epi64(acc));
}

float Lut8F32(const float* lut, const uint8_t* code, size_t m) {
  __m512 s = _mm512_setzero_ps();
  __m512i base =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(256));
  const __m512i step = _mm512_set1_epi32(16 * 256);
  size_t j = 0;
  for (; j + 16 <= m; j += 16) {
    const __m512i sub =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + j)));
    s = _mm512_add_ps(s, _mm512_i32gather_ps(_mm512_add_epi32(base, sub), lut, 4));
    base = _mm512_add_epi32(base, step);
  }
  if (j < m) {
    const __mmask16 k = Mask16(m - j);
    const __m512i sub = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, code + j));
    s = _mm512_add_ps(
        s, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, _mm512_add_epi32(base, sub), lut, 4));
  }
  return _mm512_reduce_add_ps(s);
}

float Lut4F32(const float* lut, const uint8_t* code, size_t m) {
  __m512 s = _mm512_setzero_ps();
  __m512i base =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(16));
  const __m512i step = _mm512_set1_epi32(16 * 16);
  const __m512i shifts =
      _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
  const __m512i nib = _mm512_set1_epi32(0xf);
  size_t j = 0;
  for (; j + 16 <= m; j += 16) {
    uint32_t w[2];
    __builtin_memcpy(w, code + j / 2, 8);
    const __m512i words = _mm512_inserti64x4(_mm512_set1_epi32(static_cast<int>(w[0])),
                                             _mm256_set1_epi32(static_cast<int>(w[1])), 1);
    const __m512i sub = _mm512_and_si512(_mm512_srlv_epi32(words, shifts), nib);
    s = _mm512_add_ps(s, _mm512_i32gather_ps(_mm512_add_epi32(base, sub), lut, 4));
    base = _mm512_add_epi32(base, step);
  }
  float r = _mm512_reduce_add_ps(s);
  for (; j < m; ++j) r += lut[j * 16 + ((code[j >> 1] >> ((j & 1) * 4)) & 0xf)];
  return r;
}

float Lut2F32(const float* lut, const uint8_t* code, size_t m) {
  __m512 s = _mm512_setzero_ps();
  __m512i base =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(4));
  const __m512i step = _mm512_set1_epi32(16 * 4);
  const __m512i shifts =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i two = _mm512_set1_epi32(0x3);
  size_t j = 0;
  for (; j + 16 <= m; j += 16) {
    uint32_t word = 0;
    __builtin_memcpy(&word, code + j / 4, 4);
    const __m512i sub =
        _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(word)), shifts), two);
    s = _mm512_add_ps(s, _mm512_i32gather_ps(_mm512_add_epi32(base, sub), lut, 4));
    base = _mm512_add_epi32(base, step);
  }
  float r = _mm512_reduce_add_ps(s);
  for (; j < m; ++j) r += lut[j * 4 + ((code[j >> 2] >> ((j & 3) * 2)) & 0x3)];
  return r;
}

// As the AVX2 version, with four sub-codes (two 32-byte groups) per 512-bit register: lane L of
// the sums covers sub-code 4g + L. A trailing odd group goes through the 256-bit path.
void FastScan4U8Block(const uint8_t* lut, const uint8_t* blk, size_t m, uint32_t* out) {
  const __m512i low = _mm512_set1_epi8(0x0f);
  const __m512i even_mask = _mm512_set1_epi16(0x00ff);
  uint32_t total[32] = {};
  const size_t groups = m / 2;
  const size_t quads = groups / 2;
  for (size_t q0 = 0; q0 < quads; q0 += 128) {
    const size_t q1 = q0 + 128 < quads ? q0 + 128 : quads;
    __m512i lo_even = _mm512_setzero_si512(), lo_odd = _mm512_setzero_si512();
    __m512i hi_even = _mm512_setzero_si512(), hi_odd = _mm512_setzero_si512();
    for (size_t q = q0; q < q1; ++q) {
      const __m512i v = _mm512_loadu_si512(blk + q * 64);
      const __m512i t = _mm512_loadu_si512(lut + q * 64);
      const __m512i dlo = _mm512_shuffle_epi8(t, _mm512_and_si512(v, low));
      const __m512i dhi = _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
      lo_even = _mm512_add_epi16(lo_even, _mm512_and_si512(dlo, even_mask));
      lo_odd = _mm512_add_epi16(lo_odd, _mm512_srli_epi16(dlo, 8));
      hi_even = _mm512_add_epi16(hi_even, _mm512_and_si512(dhi, even_mask));
      hi_odd = _mm512_add_epi16(hi_odd, _mm512_srli_epi16(dhi, 8));
    }
    uint16_t le[32], lo[32], he[32], ho[32];
    _mm512_storeu_si512(le, lo_even);
    _mm512_storeu_si512(lo, lo_odd);
    _mm512_storeu_si512(he, hi_even);
    _mm512_storeu_si512(ho, hi_odd);
    for (size_t e = 0; e < 8; ++e) {
      total[2 * e] += uint32_t{le[e]} + le[e + 8] + le[e + 16] + le[e + 24];
      total[2 * e + 1] += uint32_t{lo[e]} + lo[e + 8] + lo[e + 16] + lo[e + 24];
      total[16 + 2 * e] += uint32_t{he[e]} + he[e + 8] + he[e + 16] + he[e + 24];
      total[16 + 2 * e + 1] += uint32_t{ho[e]} + ho[e + 8] + ho[e + 16] + ho[e + 24];
    }
  }
  if (groups % 2 == 1) {
    const size_t g = groups - 1;
    const __m256i low256 = _mm256_set1_epi8(0x0f);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + g * 32));
    const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut + g * 32));
    uint8_t dlo[32], dhi[32];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dlo),
                        _mm256_shuffle_epi8(t, _mm256_and_si256(v, low256)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dhi),
                        _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(v, 4), low256)));
    for (size_t j = 0; j < 16; ++j) {
      total[j] += uint32_t{dlo[j]} + dlo[j + 16];
      total[16 + j] += uint32_t{dhi[j]} + dhi[j + 16];
    }
  }
  for (size_t j = 0; j < 32; ++j) out[j] = total[j];
}

void FastScan4U8(const uint8_t* lut, const uint8_t* blocks, size_t nblocks, size_t m,
                 uint32_t* out) {
  for (size_t b = 0; b < nblocks; ++b) FastScan4U8Block(lut, blocks + b * m * 16, m, out + b * 32);
}

}  // namespace

void FillAvx512Kernels(DistanceKernels* k) {
  k->l2_sqr_f32 = L2SqrF32;
  k->dot_f32 = DotF32;
  k->l2_sqr_f32_batch = BatchF32<L2SqrF32>;
  k->dot_f32_batch = BatchF32<DotF32>;
  k->dot_i8 = DotI8;
  k->l2_sqr_i8 = L2SqrI8;
  k->dot_f32_u8 = DotF32U8;
  k->l2_sqr_f32_u8 = L2SqrF32U8;
  k->dot_f32_u8_batch = BatchF32U8<DotF32U8>;
  k->l2_sqr_f32_u8_batch = BatchWeightedF32U8<L2SqrF32U8>;
  k->hamming = Hamming;
  k->hamming_batch = BatchHamming<Hamming>;
  k->lut8_f32 = Lut8F32;
  k->lut4_f32 = Lut4F32;
  k->lut2_f32 = Lut2F32;
  k->lut8_f32_batch = BatchLut<Lut8F32>;
  k->lut4_f32_batch = BatchLut<Lut4F32>;
  k->fastscan4_u8_batch = FastScan4U8;
}

}  // namespace skeg::index::internal
