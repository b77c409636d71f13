// Private to index/quant: constructors and payload decoders of the quantizer kinds, the payload
// byte helpers and k-means.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/coding.h"
#include "common/status.h"
#include "index/quant/quantizer.h"

namespace skeg::index::internal {

// REQUIRES (all): params validated, CheckQuantizerDim() passed.
std::unique_ptr<Quantizer> NewInt8Quantizer(size_t dim, Metric metric,
                                            const QuantizerParams& params);
std::unique_ptr<Quantizer> NewBinaryQuantizer(size_t dim, Metric metric);
std::unique_ptr<Quantizer> NewTurboQuantizer(QuantKind kind, size_t dim, Metric metric,
                                             const QuantizerParams& params);
std::unique_ptr<Quantizer> NewPqQuantizer(size_t dim, Metric metric, const QuantizerParams& params);

// Rebuild from a payload written by SerializePayload(). Errors: kCorruption.
Result<std::unique_ptr<Quantizer>> LoadInt8Quantizer(size_t dim, Metric metric,
                                                     std::string_view payload);
Result<std::unique_ptr<Quantizer>> LoadBinaryQuantizer(size_t dim, Metric metric,
                                                       std::string_view payload);
Result<std::unique_ptr<Quantizer>> LoadTurboQuantizer(QuantKind kind, size_t dim, Metric metric,
                                                      std::string_view payload);
Result<std::unique_ptr<Quantizer>> LoadPqQuantizer(size_t dim, Metric metric,
                                                   std::string_view payload);

// Little-endian payload writers.
inline void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
inline void PutU32(std::string* out, uint32_t v) {
  char buf[4];
  EncodeFixed32(buf, v);
  out->append(buf, 4);
}
inline void PutU64(std::string* out, uint64_t v) {
  char buf[8];
  EncodeFixed64(buf, v);
  out->append(buf, 8);
}
inline void PutF32s(std::string* out, const float* v, size_t n) {
  out->append(reinterpret_cast<const char*>(v), n * sizeof(float));  // little-endian host
}

// Bounds-checked little-endian reader over a payload; every Read* returns false past the end.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view data) : data_(data) {}
  bool ReadU8(uint8_t* v) {
    if (data_.size() < 1) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool ReadU32(uint32_t* v) {
    if (data_.size() < 4) return false;
    *v = DecodeFixed32(data_.data());
    data_.remove_prefix(4);
    return true;
  }
  bool ReadU64(uint64_t* v) {
    if (data_.size() < 8) return false;
    *v = DecodeFixed64(data_.data());
    data_.remove_prefix(8);
    return true;
  }
  bool ReadF32s(float* v, size_t n) {
    if (data_.size() / sizeof(float) < n) return false;
    std::memcpy(v, data_.data(), n * sizeof(float));
    data_.remove_prefix(n * sizeof(float));
    return true;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

// splitmix64 (Steele, Lea, Flood 2014): a fixed, implementation-independent generator, so a
// seed gives the same rotation / k-means on every platform and standard library.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0; the modulo bias is irrelevant for these uses).
  uint64_t Uniform(uint64_t n) { return Next() % n; }
  // Uniform in [0, 1).
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// k-means on n points of d floats (row-major): k-means++ seeding (Arthur & Vassilvitskii 2007)
// then `iterations` Lloyd rounds; an emptied cluster is re-seeded with the point farthest from
// its centroid. Writes k x d centroids. REQUIRES: n >= k >= 1.
void KMeans(const float* x, size_t n, size_t d, size_t k, uint32_t iterations, uint64_t seed,
            float* centroids);

// Index of the nearest of k centroids (k x d) to the d floats at x, by squared L2.
size_t NearestCentroid(const float* x, const float* centroids, size_t k, size_t d);

// The same with the centroids stored dimension-major (ct: d x k) and their squared norms
// (cnorm: k), which vectorises over centroids. REQUIRES: k <= 256.
size_t NearestCentroidTransposed(const float* x, const float* ct, const float* cnorm, size_t k,
                                 size_t d);
// Fills ct (d x k) and cnorm (k) from k x d centroids.
void TransposeCentroids(const float* centroids, size_t k, size_t d, float* ct, float* cnorm);

}  // namespace skeg::index::internal
