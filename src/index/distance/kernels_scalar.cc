// Scalar reference kernels: plain loops in index order, compiled for the baseline target. Every
// SIMD level is tested against these (distance_test.cc).
#include <cstddef>
#include <cstdint>

#include "index/distance/internal/batch_loops.h"
#include "index/distance/internal/kernel_tables.h"

namespace skeg::index::internal {
namespace {

float L2SqrF32(const float* a, const float* b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; ++i) {
    const float t = a[i] - b[i];
    s += t * t;
  }
  return s;
}

float DotF32(const float* a, const float* b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; ++i) s += a[i] * b[i];
  return s;
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t d) {
  int32_t s = 0;
  for (size_t i = 0; i < d; ++i) s += int32_t{a[i]} * int32_t{b[i]};
  return s;
}

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t d) {
  int32_t s = 0;
  for (size_t i = 0; i < d; ++i) {
    const int32_t t = int32_t{a[i]} - int32_t{b[i]};
    s += t * t;
  }
  return s;
}

float DotF32U8(const float* q, const uint8_t* c, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; ++i) s += q[i] * static_cast<float>(c[i]);
  return s;
}

float L2SqrF32U8(const float* q, const float* w, const uint8_t* c, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; ++i) {
    const float t = q[i] - static_cast<float>(c[i]);
    s += w[i] * (t * t);
  }
  return s;
}

uint32_t Popcount64(uint64_t x) {
  // Baseline x86-64 has no POPCNT instruction; this is the SWAR count.
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<uint32_t>((x * 0x0101010101010101ULL) >> 56);
}

uint32_t Hamming(const uint8_t* a, const uint8_t* b, size_t nbytes) {
  uint32_t s = 0;
  size_t i = 0;
  for (; i + 8 <= nbytes; i += 8) {
    uint64_t x = 0;
    uint64_t y = 0;
    __builtin_memcpy(&x, a + i, 8);
    __builtin_memcpy(&y, b + i, 8);
    s += Popcount64(x ^ y);
  }
  for (; i < nbytes; ++i) s += Popcount64(uint64_t{static_cast<uint8_t>(a[i] ^ b[i])});
  return s;
}

float Lut8F32(const float* lut, const uint8_t* code, size_t m) {
  float s = 0;
  for (size_t j = 0; j < m; ++j) s += lut[j * 256 + code[j]];
  return s;
}

float Lut4F32(const float* lut, const uint8_t* code, size_t m) {
  float s = 0;
  for (size_t j = 0; j < m; ++j) {
    const unsigned sub = (code[j >> 1] >> ((j & 1) * 4)) & 0xf;
    s += lut[j * 16 + sub];
  }
  return s;
}

float Lut2F32(const float* lut, const uint8_t* code, size_t m) {
  float s = 0;
  for (size_t j = 0; j < m; ++j) {
    const unsigned sub = (code[j >> 2] >> ((j & 3) * 2)) & 0x3;
    s += lut[j * 4 + sub];
  }
  return s;
}

void FastScan4U8(const uint8_t* lut, const uint8_t* blocks, size_t nblocks, size_t m,
                 uint32_t* out) {
  const size_t block_bytes = m * 16;
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = blocks + b * block_bytes;
    for (size_t j = 0; j < 32; ++j) {
      uint32_t s = 0;
      for (size_t k = 0; k < m; ++k) {
        // Sub-code pair (k & ~1, k | 1) shares a 32-byte group; sub k sits in half (k & 1).
        const uint8_t byte = blk[(k >> 1) * 32 + (k & 1) * 16 + (j & 15)];
        const unsigned sub = j < 16 ? (byte & 0xf) : (byte >> 4);
        s += lut[k * 16 + sub];
      }
      out[b * 32 + j] = s;
    }
  }
}

}  // namespace

void FillScalarKernels(DistanceKernels* k) {
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
