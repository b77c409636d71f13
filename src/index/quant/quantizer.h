// Vector quantizers: compact codes for f32 vectors and asymmetric distances (the query stays in
// f32 or becomes a per-query lookup table) between a query and codes. The flat and Vamana indexes
// keep codes in RAM or in node records, rank candidates by these distances and re-rank the best
// ones with exact f32 distances.
//
// Kinds (docs/quantizers.md has the full table with measured recall):
//   int8    scalar quantization: x_i ~= offset_i + scale_i * c_i with c_i in [0, 255], one byte per
//           dimension. scale/offset per dimension (default) or one global pair, learned from a
//           training sample (min/max), or fixed to [-r, r] (QuantizerParams::int8_fixed_range)
//           for data whose range is known (e.g. normalised embeddings), which needs no training.
//   binary  sign bits (x_i > 0), ceil(d/8) bytes, Hamming distance. A navigation ordering only
//           (for cosine / inner-product data); results are always re-ranked with exact f32.
//   tq1/2/4 TurboQuant (Zandieh, Daliri, Hadian, Mirrokni 2025, "TurboQuant: Online Vector
//           Quantization with Near-optimal Distortion Rate", the MSE variant): the vector is
//           scaled to unit norm, zero-padded to d_pad = max(8, next power of two >= d), rotated by
//           three rounds of random sign flips + a normalised fast Walsh-Hadamard transform (seeded
//           per index: data-oblivious, no training, safe under live writes), and each rotated
//           coordinate (~ N(0, 1/d_pad)) is quantized with the b-bit Lloyd-Max levels of a
//           Gaussian (b = 1, 2, 4). The norm is stored as f32 after the packed levels, so L2 and
//           inner product work for non-normalised data. Code: d_pad * b / 8 + 4 bytes.
//   pq      product quantization (Jegou, Douze, Schmid 2011, "Product Quantization for Nearest
//           Neighbor Search"): d split into M sub-vectors of d/M dimensions, each replaced by the
//           id of its nearest of K <= 256 centroids (k-means++ then Lloyd, fixed seed, trained on
//           at most max_train_rows rows). One byte per sub-vector: M bytes. ADC with a per-query
//           M x 256 float table. REQUIRES d % M == 0.
//
// Distances are "smaller is nearer" in the units of the metric (distance.h): squared L2, -<q, x>
// or 1 - cos, estimated from the code; the binary kind returns the Hamming distance instead. For
// kCosine every quantizer normalises vectors before encoding and queries before use.
//
// Thread-safety: after Train() (or construction, for kinds that need none) a Quantizer is
// immutable, and Encode/Decode/PrepareQuery/Distance/ScanCodes may run concurrently from many
// threads, each with its own QueryContext. Train() needs exclusive access.
//
// Errors: kInvalidArgument for a dimension a kind does not accept (with the reason) or bad
// parameters; kCorruption for serialized bytes that fail the CRC or do not parse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "index/distance/distance.h"

namespace skeg::index {

enum class QuantKind : uint8_t {
  kInt8 = 1,
  kBinary = 2,
  kTq1 = 3,
  kTq2 = 4,
  kTq4 = 5,
  kPq = 6,
};

// "int8", "binary", "tq1", "tq2", "tq4", "pq".
std::string_view QuantKindName(QuantKind kind);
// Parses the names above (ASCII case-insensitive). Errors: kInvalidArgument.
Result<QuantKind> ParseQuantKind(std::string_view name);

// Largest dimension any quantizer accepts.
inline constexpr size_t kMaxQuantDim = 65536;

struct QuantizerParams {
  // int8: one scale/offset per dimension (true) or one for the whole vector (false).
  bool int8_per_dimension = true;
  // int8: when > 0, codes cover [-r, r] in every dimension and no training is needed.
  float int8_fixed_range = 0;
  // TurboQuant: seed of the random sign flips (stored with the quantizer).
  uint64_t seed = 0x736b65672d747121ULL;
  // PQ: number of sub-quantizers; 0 picks d/4, else d/2, else d (the first that divides d).
  uint32_t pq_m = 0;
  // PQ: centroids per sub-quantizer, 2..256.
  uint32_t pq_k = 256;
  // PQ training: Lloyd iterations after k-means++ seeding, and the sample size cap (rows beyond
  // it are skipped by a deterministic stride). Training costs about
  // min(n, max_train_rows) * K * d * (train_iterations + 1) multiply-adds.
  uint32_t train_iterations = 12;
  uint32_t max_train_rows = 20000;

  // Errors: kInvalidArgument (pq_k outside 2..256, negative or non-finite range, zero iterations
  // or a sample cap below 256).
  Status Validate() const;
};

class Quantizer;

// Per-query scratch: the prepared query and its lookup tables. Owned by the caller and reused
// across queries; Quantizer::NewQueryContext() sizes it once, so PrepareQuery never allocates.
// The members are private to the quantizers (their meaning differs per kind); callers only pass
// the object around. One context serves one thread at a time.
struct QueryContext {
  const Quantizer* owner = nullptr;
  std::vector<float> query;   // folded / rotated query (d or d_pad floats)
  std::vector<float> lut;     // lookup table (PQ: M x 256, TurboQuant: m x 16)
  std::vector<uint8_t> bits;  // binary: the query's sign bits
  float bias = 0;             // added to every distance
  float query_norm_sqr = 0;   // |q|^2 (TurboQuant L2)

  // Bytes held by this context.
  size_t MemoryUsage() const {
    return query.capacity() * sizeof(float) + lut.capacity() * sizeof(float) + bits.capacity();
  }
};

class Quantizer {
 public:
  virtual ~Quantizer() = default;
  Quantizer(const Quantizer&) = delete;
  Quantizer& operator=(const Quantizer&) = delete;

  QuantKind kind() const { return kind_; }
  size_t dim() const { return dim_; }
  Metric metric() const { return metric_; }

  // Bytes of one code.
  virtual size_t code_size() const = 0;
  // False until Train() succeeded, for kinds that learn from data (int8 without a fixed range,
  // pq); always true for the data-oblivious kinds (binary, tq*).
  virtual bool is_trained() const = 0;

  // Learns the parameters from n rows of dim() floats (row-major, rows + i * dim()). A no-op for
  // data-oblivious kinds; may be called again to retrain. Errors: kInvalidArgument when n is too
  // small (pq needs n >= K, int8 n >= 1).
  [[nodiscard]] virtual Status Train(const float* rows, size_t n) = 0;

  // Writes code_size() bytes for the dim() floats at x. REQUIRES: is_trained(). Allocation-free
  // after the first call on a thread (scratch is thread-local).
  virtual void Encode(const float* x, uint8_t* code) const = 0;
  // Reconstructs dim() floats from a code (for kCosine, of the normalised vector; for binary,
  // +-1/sqrt(d) per dimension). REQUIRES: is_trained().
  virtual void Decode(const uint8_t* code, float* x) const = 0;

  // A context sized for this quantizer.
  QueryContext NewQueryContext() const;
  // Prepares ctx for the query q (dim() floats): folds scales into it, rotates it or builds its
  // lookup table. Does not allocate when ctx came from NewQueryContext(). REQUIRES:
  // is_trained().
  virtual void PrepareQuery(const float* q, QueryContext* ctx) const = 0;
  // Estimated distance between the prepared query and one code.
  virtual float Distance(const QueryContext& ctx, const uint8_t* code) const = 0;
  // out[i] = Distance(ctx, codes + i * code_size()) for n contiguous codes (the flat scan).
  virtual void ScanCodes(const QueryContext& ctx, const uint8_t* codes, size_t n,
                         float* out) const = 0;

  // The parameters (not the codes) as self-describing bytes; see quantizer.cc for the layout
  // (magic, version, kind, metric, dim, payload, masked CRC32C).
  std::string Serialize() const;

  // Bytes held by the parameters (centroids, scales, signs), excluding codes and contexts.
  virtual size_t MemoryUsage() const = 0;

 protected:
  Quantizer(QuantKind kind, size_t dim, Metric metric) : kind_(kind), dim_(dim), metric_(metric) {}
  // Appends the kind-specific payload.
  virtual void SerializePayload(std::string* out) const = 0;
  // Sizes of the context buffers this kind needs.
  virtual void SizeContext(QueryContext* ctx) const = 0;

 private:
  const QuantKind kind_;
  const size_t dim_;
  const Metric metric_;
};

// Whether `kind` accepts `dim` with `params`. Errors: kInvalidArgument with the reason, e.g.
// "pq: dimension 100 is not divisible by M=16".
Status CheckQuantizerDim(QuantKind kind, size_t dim, const QuantizerParams& params);

// A new, untrained (for int8 without a fixed range and pq) quantizer. Errors: those of
// params.Validate() and CheckQuantizerDim().
Result<std::unique_ptr<Quantizer>> MakeQuantizer(QuantKind kind, size_t dim, Metric metric,
                                                 const QuantizerParams& params = {});

// Rebuilds a quantizer from Serialize() bytes; the result encodes bit-identically to the
// original. Errors: kCorruption (bad magic, CRC, version, kind, metric or payload).
Result<std::unique_ptr<Quantizer>> DeserializeQuantizer(std::string_view bytes);

}  // namespace skeg::index
