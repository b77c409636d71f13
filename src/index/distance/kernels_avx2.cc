// AVX2 + FMA kernels. Compiled with -mavx2 -mfma only (CMakeLists.txt); called only when
// DetectCpu() reports both. Float sums keep several independent accumulators (so the order
// differs from the scalar reference; see the tolerance in distance.h); tails are finished with
// masked loads or scalar loops, so no alignment and no padding are needed.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "index/distance/internal/batch_loops.h"
#include "index/distance/internal/kernel_tables.h"

namespace skeg::index::internal {
namespace {

inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t HSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Lane mask for the first r (< 8) floats, for _mm256_maskload_ps (masked-off lanes never fault).
inline __m256i TailMask(size_t r) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), idx);
}

float L2SqrF32(const float* a, const float* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    const __m256 t2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    const __m256 t3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
    s1 = _mm256_fmadd_ps(t1, t1, s1);
    s2 = _mm256_fmadd_ps(t2, t2, s2);
    s3 = _mm256_fmadd_ps(t3, t3, s3);
  }
  for (; i + 8 <= d; i += 8) {
    const __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(t, t, s0);
  }
  if (i < d) {
    const __m256i m = TailMask(d - i);
    const __m256 t = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
    s1 = _mm256_fmadd_ps(t, t, s1);
  }
  return HSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

float DotF32(const float* a, const float* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= d; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  if (i < d) {
    const __m256i m = TailMask(d - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
  }
  return HSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t d) {
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m256i a0 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i b0 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    const __m256i a1 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 16)));
    const __m256i b1 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 16)));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(a1, b1));
  }
  int32_t s = HSumI32(_mm256_add_epi32(s0, s1));
  for (; i < d; ++i) s += int32_t{a[i]} * int32_t{b[i]};
  return s;
}

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t d) {
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m256i t0 = _mm256_sub_epi16(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))),
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))));
    const __m256i t1 = _mm256_sub_epi16(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 16))),
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 16))));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(t0, t0));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(t1, t1));
  }
  int32_t s = HSumI32(_mm256_add_epi32(s0, s1));
  for (; i < d; ++i) {
    const int32_t t = int32_t{a[i]} - int32_t{b[i]};
    s += t * t;
  }
  return s;
}

inline __m256 LoadU8AsF32(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

float DotF32U8(const float* q, const uint8_t* c, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadU8AsF32(c + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), LoadU8AsF32(c + i + 8), s1);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadU8AsF32(c + i), s0);
  float s = HSum(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) s += q[i] * static_cast<float>(c[i]);
  return s;
}

float L2SqrF32U8(const float* q, const float* w, const uint8_t* c, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LoadU8AsF32(c + i));
    const __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), LoadU8AsF32(c + i + 8));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(t0, t0), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_mul_ps(t1, t1), s1);
  }
  for (; i + 8 <= d; i += 8) {
    const __m256 t = _mm256_sub_ps(_mm256_loadu_ps(q + i), LoadU8AsF32(c + i));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(t, t), s0);
  }
  float s = HSum(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) {
    const float t = q[i] - static_cast<float>(c[i]);
    s += w[i] * (t * t);
  }
  return s;
}

uint32_t Popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<uint32_t>((x * 0x0101010101010101ULL) >> 56);
}

// Mula, Kurz, Lemire 2018, "Faster Population Counts Using AVX2 Instructions": a 16-entry
// nibble-count table through PSHUFB, summed per 64-bit lane with PSADBW.
inline __m256i PopcountBytes(__m256i v) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(v, low);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
}

uint32_t Hamming(const uint8_t* a, const uint8_t* b, size_t nbytes) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= nbytes; i += 32) {
    const __m256i x = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(PopcountBytes(x), _mm256_setzero_si256()));
  }
  uint64_t s = static_cast<uint64_t>(_mm256_extract_epi64(acc, 0)) +
               static_cast<uint64_t>(_mm256_extract_epi64(acc, 1)) +
               static_cast<uint64_t>(_mm256_extract_epi64(acc, 2)) +
               static_cast<uint64_t>(_mm256_extract_epi64(acc, 3));
  for (; i + 8 <= nbytes; i += 8) {
    uint64_t x = 0;
    uint64_t y = 0;
    __builtin_memcpy(&x, a + i, 8);
    __builtin_memcpy(&y, b + i, 8);
    s += Popcount64(x ^ y);
  }
  for (; i < nbytes; ++i) s += Popcount64(uint64_t{static_cast<uint8_t>(a[i] ^ b[i])});
  return static_cast<uint32_t>(s);
}

float Lut8F32(const float* lut, const uint8_t* code, size_t m) {
  __m256 s = _mm256_setzero_ps();
  __m256i base = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
  const __m256i step = _mm256_set1_epi32(8 * 256);
  size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256i sub =
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(code + j)));
    s = _mm256_add_ps(s, _mm256_i32gather_ps(lut, _mm256_add_epi32(base, sub), 4));
    base = _mm256_add_epi32(base, step);
  }
  float r = HSum(s);
  for (; j < m; ++j) r += lut[j * 256 + code[j]];
  return r;
}

float Lut4F32(const float* lut, const uint8_t* code, size_t m) {
  __m256 s = _mm256_setzero_ps();
  __m256i base = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
  const __m256i step = _mm256_set1_epi32(8 * 16);
  const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i nib = _mm256_set1_epi32(0xf);
  size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    uint32_t word = 0;
    __builtin_memcpy(&word, code + j / 2, 4);
    const __m256i sub =
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)), shifts), nib);
    s = _mm256_add_ps(s, _mm256_i32gather_ps(lut, _mm256_add_epi32(base, sub), 4));
    base = _mm256_add_epi32(base, step);
  }
  float r = HSum(s);
  for (; j < m; ++j) r += lut[j * 16 + ((code[j >> 1] >> ((j & 1) * 4)) & 0xf)];
  return r;
}

float Lut2F32(const float* lut, const uint8_t* code, size_t m) {
  __m256 s = _mm256_setzero_ps();
  __m256i base = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i step = _mm256_set1_epi32(8 * 4);
  const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i two = _mm256_set1_epi32(0x3);
  size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    uint16_t half = 0;
    __builtin_memcpy(&half, code + j / 4, 2);
    const __m256i sub = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(half), shifts), two);
    s = _mm256_add_ps(s, _mm256_i32gather_ps(lut, _mm256_add_epi32(base, sub), 4));
    base = _mm256_add_epi32(base, step);
  }
  float r = HSum(s);
  for (; j < m; ++j) r += lut[j * 4 + ((code[j >> 2] >> ((j & 3) * 2)) & 0x3)];
  return r;
}

// One block of 32 codes. Each 32-byte group holds sub-codes (k, k+1) in its two 128-bit lanes and
// the LUT rows k, k+1 are the matching 32 LUT bytes, so one in-lane PSHUFB looks up 16 codes for
// two sub-quantizers. Sums are kept in uint16 (even/odd bytes split, as in Faiss's
// pq4_fast_scan) and widened to uint32 every 128 groups, before 2 * 128 * 255 could overflow.
void FastScan4U8Block(const uint8_t* lut, const uint8_t* blk, size_t m, uint32_t* out) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i even_mask = _mm256_set1_epi16(0x00ff);
  uint32_t total[32] = {};
  const size_t groups = m / 2;
  for (size_t g0 = 0; g0 < groups; g0 += 128) {
    const size_t g1 = g0 + 128 < groups ? g0 + 128 : groups;
    __m256i lo_even = _mm256_setzero_si256(), lo_odd = _mm256_setzero_si256();
    __m256i hi_even = _mm256_setzero_si256(), hi_odd = _mm256_setzero_si256();
    for (size_t g = g0; g < g1; ++g) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + g * 32));
      const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut + g * 32));
      const __m256i dlo = _mm256_shuffle_epi8(t, _mm256_and_si256(v, low));
      const __m256i dhi = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
      lo_even = _mm256_add_epi16(lo_even, _mm256_and_si256(dlo, even_mask));
      lo_odd = _mm256_add_epi16(lo_odd, _mm256_srli_epi16(dlo, 8));
      hi_even = _mm256_add_epi16(hi_even, _mm256_and_si256(dhi, even_mask));
      hi_odd = _mm256_add_epi16(hi_odd, _mm256_srli_epi16(dhi, 8));
    }
    uint16_t le[16], lo[16], he[16], ho[16];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(le), lo_even);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo), lo_odd);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(he), hi_even);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(ho), hi_odd);
    // Lane 0 (u16 0..7) covers sub k, lane 1 (u16 8..15) sub k+1; u16 e of the even sums is code
    // 2e, of the odd sums code 2e+1 (codes 16.. for the high nibbles).
    for (size_t e = 0; e < 8; ++e) {
      total[2 * e] += uint32_t{le[e]} + le[e + 8];
      total[2 * e + 1] += uint32_t{lo[e]} + lo[e + 8];
      total[16 + 2 * e] += uint32_t{he[e]} + he[e + 8];
      total[16 + 2 * e + 1] += uint32_t{ho[e]} + ho[e + 8];
    }
  }
  for (size_t j = 0; j < 32; ++j) out[j] = total[j];
}

void FastScan4U8(const uint8_t* lut, const uint8_t* blocks, size_t nblocks, size_t m,
                 uint32_t* out) {
  for (size_t b = 0; b < nblocks; ++b) FastScan4U8Block(lut, blocks + b * m * 16, m, out + b * 32);
}

}  // namespace

void FillAvx2Kernels(DistanceKernels* k) {
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
