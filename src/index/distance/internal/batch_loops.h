// Batch loops shared by every instruction-set translation unit: "one query against n
// contiguous rows", built from that unit's single-row kernel.
//
// The templates take the kernel as a template argument, so each kernels_*.cc instantiates them
// with its own (anonymous-namespace) kernel, compiled with its own flags and inlined into the
// loop; no code from one instruction set can leak into another unit's table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace skeg::index::internal {

// out[i] = Kernel(q, base + i*d, d)
template <float (*Kernel)(const float*, const float*, size_t)>
void BatchF32(const float* q, const float* base, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Kernel(q, base + i * d, d);
}

// out[i] = Kernel(q, codes + i*d, d)
template <float (*Kernel)(const float*, const uint8_t*, size_t)>
void BatchF32U8(const float* q, const uint8_t* codes, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Kernel(q, codes + i * d, d);
}

// out[i] = Kernel(q, w, codes + i*d, d)
template <float (*Kernel)(const float*, const float*, const uint8_t*, size_t)>
void BatchWeightedF32U8(const float* q, const float* w, const uint8_t* codes, size_t n, size_t d,
                        float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Kernel(q, w, codes + i * d, d);
}

// out[i] = Kernel(q, codes + i*nbytes, nbytes)
template <uint32_t (*Kernel)(const uint8_t*, const uint8_t*, size_t)>
void BatchHamming(const uint8_t* q, const uint8_t* codes, size_t n, size_t nbytes, uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Kernel(q, codes + i * nbytes, nbytes);
}

// out[i] = Kernel(lut, codes + i*code_bytes, m)
template <float (*Kernel)(const float*, const uint8_t*, size_t)>
void BatchLut(const float* lut, const uint8_t* codes, size_t n, size_t m, size_t code_bytes,
              float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Kernel(lut, codes + i * code_bytes, m);
}

}  // namespace skeg::index::internal
