// Product quantizer (Jegou, Douze, Schmid 2011, "Product Quantization for Nearest Neighbor
// Search", IEEE TPAMI 33(1)). Section 2: the vector is cut into M sub-vectors of d/M dimensions
// and each is replaced by the index of its nearest centroid in a per-subspace codebook of K
// centroids learned by k-means. Section 3.1 (asymmetric distance computation, ADC): the query is
// not quantized; per query, a table T[j][c] = dist(q_j, centroid_jc) is built once (M x K
// entries) and the distance to a code is sum_j T[j][code_j], M table lookups.
#include <algorithm>
#include <cmath>
#include <vector>

#include "index/quant/internal/kinds.h"

namespace skeg::index::internal {
namespace {

uint32_t AutoM(size_t d) {
  if (d % 4 == 0) return static_cast<uint32_t>(d / 4);
  if (d % 2 == 0) return static_cast<uint32_t>(d / 2);
  return static_cast<uint32_t>(d);
}

// Payload: u32 M | u32 K | u32 train_iterations | u32 max_train_rows | u64 seed | u8 trained |
// if trained: f32 centroids[M][K][d/M].
class PqQuantizer final : public Quantizer {
 public:
  PqQuantizer(size_t dim, Metric metric, const QuantizerParams& params)
      : Quantizer(QuantKind::kPq, dim, metric),
        m_(params.pq_m != 0 ? params.pq_m : AutoM(dim)),
        k_(params.pq_k),
        dsub_(dim / m_),
        iterations_(params.train_iterations),
        max_train_rows_(params.max_train_rows),
        seed_(params.seed),
        centroids_(size_t{m_} * k_ * dsub_) {}

  size_t code_size() const override { return m_; }
  bool is_trained() const override { return trained_; }

  Status Train(const float* rows, size_t n) override {
    if (n < k_) {
      return Status::InvalidArgument("pq: training needs at least K=" + std::to_string(k_) +
                                     " rows, got " + std::to_string(n));
    }
    // Deterministic subsample: every stride-th row, at most max_train_rows_ rows.
    const size_t take = std::min<size_t>(n, max_train_rows_);
    const double stride = static_cast<double>(n) / static_cast<double>(take);
    const size_t d = dim();
    std::vector<float> sample(take * d);
    for (size_t i = 0; i < take; ++i) {
      const size_t src = static_cast<size_t>(static_cast<double>(i) * stride);
      float* dst = sample.data() + i * d;
      std::copy(rows + src * d, rows + (src + 1) * d, dst);
      if (metric() == Metric::kCosine) NormalizeF32(dst, d);
    }
    std::vector<float> sub(take * dsub_);
    for (size_t j = 0; j < m_; ++j) {
      for (size_t i = 0; i < take; ++i) {
        std::copy(sample.data() + i * d + j * dsub_, sample.data() + i * d + (j + 1) * dsub_,
                  sub.data() + i * dsub_);
      }
      KMeans(sub.data(), take, dsub_, k_, iterations_, seed_ + j, Codebook(j));
    }
    Finish();
    return Status::Ok();
  }

  void Encode(const float* x, uint8_t* code) const override {
    SKEG_DCHECK(trained_);
    const float* v = Prepared(x);
    for (size_t j = 0; j < m_; ++j) {
      code[j] = static_cast<uint8_t>(NearestCentroidTransposed(
          v + j * dsub_, transposed_.data() + j * k_ * dsub_, norms_.data() + j * k_, k_, dsub_));
    }
  }

  void Decode(const uint8_t* code, float* x) const override {
    for (size_t j = 0; j < m_; ++j) {
      const float* c = Codebook(j) + size_t{code[j]} * dsub_;
      std::copy(c, c + dsub_, x + j * dsub_);
    }
  }

  void PrepareQuery(const float* q, QueryContext* ctx) const override {
    SKEG_DCHECK(trained_ && ctx->owner == this);
    const float* v = Prepared(q);
    const DistanceKernels& kern = Kernels();
    for (size_t j = 0; j < m_; ++j) {
      float* row = ctx->lut.data() + j * 256;
      if (metric() == Metric::kL2) {
        kern.l2_sqr_f32_batch(v + j * dsub_, Codebook(j), k_, dsub_, row);
      } else {
        kern.dot_f32_batch(v + j * dsub_, Codebook(j), k_, dsub_, row);
        for (size_t c = 0; c < k_; ++c) row[c] = -row[c];
      }
    }
    ctx->bias = metric() == Metric::kCosine ? 1.0f : 0.0f;
  }

  float Distance(const QueryContext& ctx, const uint8_t* code) const override {
    return ctx.bias + Kernels().lut8_f32(ctx.lut.data(), code, m_);
  }

  void ScanCodes(const QueryContext& ctx, const uint8_t* codes, size_t n,
                 float* out) const override {
    Kernels().lut8_f32_batch(ctx.lut.data(), codes, n, m_, m_, out);
    if (ctx.bias != 0) {
      for (size_t i = 0; i < n; ++i) out[i] += ctx.bias;
    }
  }

  size_t MemoryUsage() const override { return centroids_.size() * sizeof(float) + sizeof(*this); }

  bool Load(PayloadReader* r) {
    uint8_t trained = 0;
    if (!r->ReadU8(&trained) || trained > 1) return false;
    if (trained) {
      if (!r->ReadF32s(centroids_.data(), centroids_.size())) return false;
      for (float c : centroids_) {
        if (!std::isfinite(c)) return false;
      }
    }
    if (trained == 1) Finish();
    return r->empty();
  }

 protected:
  void SerializePayload(std::string* out) const override {
    PutU32(out, m_);
    PutU32(out, k_);
    PutU32(out, iterations_);
    PutU32(out, max_train_rows_);
    PutU64(out, seed_);
    PutU8(out, trained_ ? 1 : 0);
    if (trained_) PutF32s(out, centroids_.data(), centroids_.size());
  }

  void SizeContext(QueryContext* ctx) const override {
    // 256 columns whatever K is, so lut8_f32 can index row * 256 + code (codes are < K).
    ctx->lut.assign(size_t{m_} * 256, 0.0f);
  }

 private:
  // Derived encoding tables; marks the quantizer trained.
  void Finish() {
    transposed_.resize(centroids_.size());
    norms_.resize(size_t{m_} * k_);
    for (size_t j = 0; j < m_; ++j) {
      TransposeCentroids(Codebook(j), k_, dsub_, transposed_.data() + j * k_ * dsub_,
                         norms_.data() + j * k_);
    }
    trained_ = true;
  }

  float* Codebook(size_t j) { return centroids_.data() + j * k_ * dsub_; }
  const float* Codebook(size_t j) const { return centroids_.data() + j * k_ * dsub_; }

  const float* Prepared(const float* x) const {
    if (metric() != Metric::kCosine) return x;
    thread_local std::vector<float> scratch;
    scratch.assign(x, x + dim());
    NormalizeF32(scratch.data(), dim());
    return scratch.data();
  }

  const uint32_t m_;
  const uint32_t k_;
  const size_t dsub_;
  const uint32_t iterations_;
  const uint32_t max_train_rows_;
  const uint64_t seed_;
  bool trained_ = false;
  std::vector<float> centroids_;   // M x K x dsub
  std::vector<float> transposed_;  // M x dsub x K (for Encode)
  std::vector<float> norms_;       // M x K squared centroid norms
};

}  // namespace

std::unique_ptr<Quantizer> NewPqQuantizer(size_t dim, Metric metric,
                                          const QuantizerParams& params) {
  return std::make_unique<PqQuantizer>(dim, metric, params);
}

Result<std::unique_ptr<Quantizer>> LoadPqQuantizer(size_t dim, Metric metric,
                                                   std::string_view payload) {
  PayloadReader r(payload);
  QuantizerParams p;
  if (!r.ReadU32(&p.pq_m) || !r.ReadU32(&p.pq_k) || !r.ReadU32(&p.train_iterations) ||
      !r.ReadU32(&p.max_train_rows) || !r.ReadU64(&p.seed)) {
    return Status::Corruption("pq quantizer: bad payload");
  }
  if (p.pq_m == 0 || !p.Validate().ok() || !CheckQuantizerDim(QuantKind::kPq, dim, p).ok()) {
    return Status::Corruption("pq quantizer: bad parameters");
  }
  auto q = std::make_unique<PqQuantizer>(dim, metric, p);
  if (!q->Load(&r)) return Status::Corruption("pq quantizer: bad payload");
  return std::unique_ptr<Quantizer>(std::move(q));
}

}  // namespace skeg::index::internal
