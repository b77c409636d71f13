// Distance kernels for the vector engine: f32, int8, binary (popcount) and 4/2/8-bit lookup-table
// ("fast scan") kernels, each in a scalar reference and AVX2+FMA / AVX-512 versions, reached
// through one table of function pointers chosen once at startup.
//
// Dispatch. Every instruction set lives in its own translation unit compiled with its own flags
// (kernels_scalar.cc: baseline x86-64, no AVX; kernels_avx2.cc: -mavx2 -mfma; kernels_avx512.cc:
// -mavx512f/bw/vl; kernels_avx512_vnni.cc and kernels_avx512_popcnt.cc add VNNI and VPOPCNTDQ for
// the CPUs that have them), as Faiss's per-ISA source lists and USearch's `metric_punned_t` do.
// The first call to Kernels() selects BestSimdLevel(DetectCpu()); SetSimdLevel() may lower it
// (the server does so from SKEG_SIMD before serving) and ActiveSimdLevelName() names it for the
// log and the metric. The AVX-512 table uses VNNI for int8 dot products and VPOPCNTDQ for Hamming
// distances only when DetectCpu() reports them.
//
// Shapes and units. `d` is the number of dimensions (elements), `n` the number of rows; a batch
// ("one query against n contiguous rows") reads rows `base + i * d` for i in [0, n) and writes
// out[i]. No pointer needs any alignment and every d >= 1 works (tails are handled); d == 0
// returns 0. Squared L2 is returned as is (no square root); "dot" is the plain inner product
// (larger = more similar; callers negate it for a distance).
//
// Tolerance. Floating-point kernels differ between levels only in summation order (and in FMA
// contraction), so for a sum of d terms t_i each level is within gamma_d * sum |t_i| of the exact
// value (gamma_d = d*u / (1 - d*u), u = 2^-24; Higham, "Accuracy and Stability of Numerical
// Algorithms", section 3.1), and two levels are within about d * FLT_EPSILON * sum |t_i| of each
// other. Integer kernels (int8, Hamming, u8 fast scan) are exact and identical across levels.
//
// Thread-safety: every kernel is a pure function. SetSimdLevel() must be called before any other
// thread uses the kernels (at startup); after that Kernels() is read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"
#include "platform/cpu_features.h"

namespace skeg::index {

using platform::SimdLevel;

// The metrics an index can be created with. Distances are "smaller is nearer":
//   kL2:           squared Euclidean distance
//   kInnerProduct: -<q, x>
//   kCosine:       1 - <q, x> / (|q| |x|)   (vectors are normalised once, then inner product)
enum class Metric : uint8_t { kL2 = 0, kInnerProduct = 1, kCosine = 2 };

// "l2", "ip" or "cosine".
std::string_view MetricName(Metric metric);
// Parses "l2", "ip" or "cosine" (ASCII case-insensitive). Errors: kInvalidArgument.
Result<Metric> ParseMetric(std::string_view name);

// The kernel table. Pointers are never null. Kernel contracts (all lengths in elements unless
// named *_bytes; all inputs read-only, outputs written in full):
struct DistanceKernels {
  // ---- f32 ------------------------------------------------------------------------------------
  // sum_i (a_i - b_i)^2 over d floats.
  float (*l2_sqr_f32)(const float* a, const float* b, size_t d);
  // sum_i a_i * b_i over d floats.
  float (*dot_f32)(const float* a, const float* b, size_t d);
  // out[i] = l2_sqr_f32(q, base + i*d, d) / dot_f32(...) for i in [0, n).
  void (*l2_sqr_f32_batch)(const float* q, const float* base, size_t n, size_t d, float* out);
  void (*dot_f32_batch)(const float* q, const float* base, size_t n, size_t d, float* out);

  // ---- int8 -----------------------------------------------------------------------------------
  // Symmetric kernels on signed int8 vectors, exact in int32. REQUIRES: d <= kMaxInt8Dim.
  int32_t (*dot_i8)(const int8_t* a, const int8_t* b, size_t d);
  int32_t (*l2_sqr_i8)(const int8_t* a, const int8_t* b, size_t d);
  // Asymmetric kernels: an f32 query against an unsigned 8-bit code (the int8 scalar quantizer
  // stores x_i ~= offset_i + scale_i * c_i and folds offset/scale into q and w per query).
  //   dot_f32_u8:    sum_i q_i * c_i
  //   l2_sqr_f32_u8: sum_i w_i * (q_i - c_i)^2
  float (*dot_f32_u8)(const float* q, const uint8_t* code, size_t d);
  float (*l2_sqr_f32_u8)(const float* q, const float* w, const uint8_t* code, size_t d);
  // out[i] = the kernel above against codes + i*d (codes are d bytes each).
  void (*dot_f32_u8_batch)(const float* q, const uint8_t* codes, size_t n, size_t d, float* out);
  void (*l2_sqr_f32_u8_batch)(const float* q, const float* w, const uint8_t* codes, size_t n,
                              size_t d, float* out);

  // ---- binary ---------------------------------------------------------------------------------
  // Number of differing bits between a[0, nbytes) and b[0, nbytes).
  uint32_t (*hamming)(const uint8_t* a, const uint8_t* b, size_t nbytes);
  // out[i] = hamming(q, codes + i*nbytes, nbytes).
  void (*hamming_batch)(const uint8_t* q, const uint8_t* codes, size_t n, size_t nbytes,
                        uint32_t* out);

  // ---- lookup tables (asymmetric distance computation, Jegou et al. 2011, section 3.1) -------
  // A code is m sub-codes; its distance is sum_j lut[j * K + sub_j].
  //   lut8_f32: K = 256, sub_j = code[j] (one byte per sub-code; PQ with up to 256 centroids)
  //   lut4_f32: K = 16,  sub_j = nibble j of code (low nibble of byte j/2 for even j, high for
  //             odd; code has ceil(m/2) bytes)
  //   lut2_f32: K = 4,   sub_j = bits [2*(j%4), 2*(j%4)+2) of byte j/4 (ceil(m/4) bytes)
  // lut has m * K floats.
  float (*lut8_f32)(const float* lut, const uint8_t* code, size_t m);
  float (*lut4_f32)(const float* lut, const uint8_t* code, size_t m);
  float (*lut2_f32)(const float* lut, const uint8_t* code, size_t m);
  // out[i] = lutK_f32(lut, codes + i * code_bytes, m) for i in [0, n); code_bytes >= the code
  // size above (trailing bytes, e.g. a stored norm, are skipped).
  void (*lut8_f32_batch)(const float* lut, const uint8_t* codes, size_t n, size_t m,
                         size_t code_bytes, float* out);
  void (*lut4_f32_batch)(const float* lut, const uint8_t* codes, size_t n, size_t m,
                         size_t code_bytes, float* out);
  // Quantized-LUT fast scan over 4-bit codes in the blocked layout of PackFastScan4() (Andre et
  // al. 2015 "Cache locality is not enough" (PQ Fast Scan) / Quick-ADC 2017; Faiss
  // IndexPQFastScan): lut is m rows of 16 uint8 (QuantizeLut()), blocks holds nblocks blocks of 32
  // codes, and out[32*b + j] = sum_k lut[k*16 + sub_k(code 32*b + j)] exactly (uint32). REQUIRES m
  // even (pad the code with a zero sub-code and the LUT with a zero row otherwise).
  void (*fastscan4_u8_batch)(const uint8_t* lut, const uint8_t* blocks, size_t nblocks, size_t m,
                             uint32_t* out);
};

// Largest d the int8 symmetric kernels accept: d * 255^2 stays below 2^31.
inline constexpr size_t kMaxInt8Dim = 32768;
// Codes per fast-scan block.
inline constexpr size_t kFastScanBlock = 32;

// The active table (selected on first use; see the file comment).
const DistanceKernels& Kernels();

// Makes `level` the active level. Errors: kNotSupported when this CPU lacks it. REQUIRES: no
// other thread is using Kernels() (call at startup).
Status SetSimdLevel(SimdLevel level);
SimdLevel ActiveSimdLevel();
// "scalar", "avx2", "avx512", "avx512+vnni", "avx512+vpopcntdq" or "avx512+vnni+vpopcntdq".
std::string_view ActiveSimdLevelName();

// The table for `level` on a CPU with `cpu`'s features (VNNI / VPOPCNTDQ variants only when `cpu`
// has them), without changing the active one. Tests use it to run every level against the scalar
// reference. REQUIRES: BestSimdLevel(cpu) >= level.
DistanceKernels KernelsForLevel(SimdLevel level, const platform::CpuFeatures& cpu);

// ---- helpers ----------------------------------------------------------------------------------

// |a| (Euclidean norm) of d floats.
float NormF32(const float* a, size_t d);
// Scales a[0, d) to unit norm in place and returns the old norm; a zero vector stays zero.
float NormalizeF32(float* a, size_t d);
// The exact distance of the indexes' re-rank, smaller is nearer: kL2 squared L2, kInnerProduct
// -<q, x>, kCosine -cos(q, x) where `q` is already unit-norm (x is normalised here; a zero x
// scores 0). Scores shown to users are -distance except for L2.
float ExactMetricDistance(Metric metric, const float* q, const float* x, size_t d);

// Packs n 4-bit codes of m sub-codes each (lut4_f32 layout, ceil(m/2) bytes per code, stride
// code_bytes) into fast-scan blocks: out receives ceil(n/32) blocks of m*16 bytes (codes past n
// are zero). Layout of block b: for every sub-code pair (k, k+1) a 32-byte group whose byte j
// (j < 16) holds sub_k of code 32b+j (low nibble) and of code 32b+j+16 (high nibble), and whose
// byte 16+j holds the same for sub k+1. REQUIRES m even; out has FastScanBytes(n, m) bytes.
void PackFastScan4(const uint8_t* codes, size_t n, size_t m, size_t code_bytes, uint8_t* out);
inline size_t FastScanBytes(size_t n, size_t m) {
  return (n + kFastScanBlock - 1) / kFastScanBlock * m * 16;
}

// Quantizes a float LUT of m rows x 16 to uint8 for fastscan4_u8_batch (Faiss quantize_lut):
// lut_u8[k][c] = round((lut[k][c] - min_k) / delta) with one delta for all rows chosen so that
// every row fits in [0, 255]. Then distance ~= bias + delta * (u8 sum), where bias = sum_k min_k;
// the error per code is at most m * delta / 2. Writes lut_u8 (m * 16 bytes), *bias and *delta.
void QuantizeLut(const float* lut, size_t m, uint8_t* lut_u8, float* bias, float* delta);

}  // namespace skeg::index
