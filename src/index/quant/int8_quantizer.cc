// int8 scalar quantizer: x_i ~= offset_i + scale_i * c_i, c_i in [0, 255].
//
// Distances fold the scales into the query once (PrepareQuery) so the scan is a plain f32 x u8
// kernel:
//   <q, x~>      = sum q_i o_i + sum (q_i s_i) c_i                  -> bias + dot_f32_u8(q*s, c)
//   |q - x~|^2   = sum s_i^2 ((q_i - o_i)/s_i - c_i)^2  (s_i > 0)   -> bias + l2_sqr_f32_u8(...)
// where dimensions with s_i == 0 (constant in the training sample) contribute (q_i - o_i)^2 to
// the bias.
#include <algorithm>
#include <cmath>
#include <vector>

#include "index/quant/internal/kinds.h"

namespace skeg::index::internal {
namespace {

// Payload: u8 per_dimension | u8 trained | f32 fixed_range (as u32 bits) | if trained:
// f32 scale[count] | f32 offset[count], count = dim (per dimension) or 1.
class Int8Quantizer final : public Quantizer {
 public:
  Int8Quantizer(size_t dim, Metric metric, bool per_dimension, float fixed_range)
      : Quantizer(QuantKind::kInt8, dim, metric),
        per_dimension_(per_dimension),
        fixed_range_(fixed_range),
        scale_(dim),
        offset_(dim),
        weight_(dim) {
    if (fixed_range > 0) {
      std::fill(offset_.begin(), offset_.end(), -fixed_range);
      std::fill(scale_.begin(), scale_.end(), 2 * fixed_range / 255.0f);
      Finish();
    }
  }

  size_t code_size() const override { return dim(); }
  bool is_trained() const override { return trained_; }

  Status Train(const float* rows, size_t n) override {
    if (n == 0) return Status::InvalidArgument("int8: training needs at least one row");
    if (fixed_range_ > 0) return Status::Ok();
    const size_t d = dim();
    std::vector<float> lo(d, INFINITY), hi(d, -INFINITY);
    std::vector<float> row(d);
    for (size_t r = 0; r < n; ++r) {
      std::copy(rows + r * d, rows + (r + 1) * d, row.begin());
      if (metric() == Metric::kCosine) NormalizeF32(row.data(), d);
      for (size_t i = 0; i < d; ++i) {
        lo[i] = std::min(lo[i], row[i]);
        hi[i] = std::max(hi[i], row[i]);
      }
    }
    if (!per_dimension_) {
      const float glo = *std::min_element(lo.begin(), lo.end());
      const float ghi = *std::max_element(hi.begin(), hi.end());
      std::fill(lo.begin(), lo.end(), glo);
      std::fill(hi.begin(), hi.end(), ghi);
    }
    for (size_t i = 0; i < d; ++i) {
      offset_[i] = lo[i];
      scale_[i] = (hi[i] - lo[i]) / 255.0f;
    }
    Finish();
    return Status::Ok();
  }

  void Encode(const float* x, uint8_t* code) const override {
    SKEG_DCHECK(trained_);
    const float* v = Prepared(x);
    for (size_t i = 0; i < dim(); ++i) {
      const float c = inv_scale_[i] * (v[i] - offset_[i]);
      code[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(c), 0.0f, 255.0f));
    }
  }

  void Decode(const uint8_t* code, float* x) const override {
    for (size_t i = 0; i < dim(); ++i) x[i] = offset_[i] + scale_[i] * static_cast<float>(code[i]);
  }

  void PrepareQuery(const float* q, QueryContext* ctx) const override {
    SKEG_DCHECK(trained_ && ctx->owner == this);
    const float* v = Prepared(q);
    const size_t d = dim();
    float bias = 0;
    if (metric() == Metric::kL2) {
      for (size_t i = 0; i < d; ++i) {
        if (scale_[i] > 0) {
          ctx->query[i] = (v[i] - offset_[i]) * inv_scale_[i];
        } else {
          ctx->query[i] = 0;
          bias += (v[i] - offset_[i]) * (v[i] - offset_[i]);
        }
      }
    } else {
      for (size_t i = 0; i < d; ++i) {
        ctx->query[i] = v[i] * scale_[i];
        bias += v[i] * offset_[i];
      }
    }
    ctx->bias = bias;
  }

  float Distance(const QueryContext& ctx, const uint8_t* code) const override {
    const DistanceKernels& k = Kernels();
    if (metric() == Metric::kL2) {
      return ctx.bias + k.l2_sqr_f32_u8(ctx.query.data(), weight_.data(), code, dim());
    }
    return FromDot(ctx.bias + k.dot_f32_u8(ctx.query.data(), code, dim()));
  }

  void ScanCodes(const QueryContext& ctx, const uint8_t* codes, size_t n,
                 float* out) const override {
    const DistanceKernels& k = Kernels();
    if (metric() == Metric::kL2) {
      k.l2_sqr_f32_u8_batch(ctx.query.data(), weight_.data(), codes, n, dim(), out);
      for (size_t i = 0; i < n; ++i) out[i] += ctx.bias;
    } else {
      k.dot_f32_u8_batch(ctx.query.data(), codes, n, dim(), out);
      for (size_t i = 0; i < n; ++i) out[i] = FromDot(ctx.bias + out[i]);
    }
  }

  size_t MemoryUsage() const override { return 4 * dim() * sizeof(float) + sizeof(*this); }

  // Restores the state written by SerializePayload.
  bool Load(PayloadReader* r) {
    uint8_t trained = 0;
    if (!r->ReadU8(&trained) || trained > 1) return false;
    if (!trained) return r->empty();
    const size_t count = per_dimension_ ? dim() : 1;
    std::vector<float> s(count), o(count);
    if (!r->ReadF32s(s.data(), count) || !r->ReadF32s(o.data(), count) || !r->empty()) {
      return false;
    }
    for (size_t i = 0; i < dim(); ++i) {
      scale_[i] = s[per_dimension_ ? i : 0];
      offset_[i] = o[per_dimension_ ? i : 0];
      if (!std::isfinite(scale_[i]) || !std::isfinite(offset_[i]) || scale_[i] < 0) return false;
    }
    Finish();
    return true;
  }

 protected:
  void SerializePayload(std::string* out) const override {
    PutU8(out, per_dimension_ ? 1 : 0);
    uint32_t range_bits = 0;
    std::memcpy(&range_bits, &fixed_range_, 4);
    PutU32(out, range_bits);
    PutU8(out, trained_ ? 1 : 0);
    if (!trained_) return;
    const size_t count = per_dimension_ ? dim() : 1;
    PutF32s(out, scale_.data(), count);
    PutF32s(out, offset_.data(), count);
  }

  void SizeContext(QueryContext* ctx) const override { ctx->query.assign(dim(), 0); }

 private:
  // Derived arrays; marks the quantizer trained.
  void Finish() {
    inv_scale_.resize(dim());
    for (size_t i = 0; i < dim(); ++i) {
      inv_scale_[i] = scale_[i] > 0 ? 1.0f / scale_[i] : 0.0f;
      weight_[i] = scale_[i] * scale_[i];
    }
    trained_ = true;
  }

  // x itself, or (kCosine) a normalised copy in thread-local scratch.
  const float* Prepared(const float* x) const {
    if (metric() != Metric::kCosine) return x;
    thread_local std::vector<float> scratch;
    scratch.assign(x, x + dim());
    NormalizeF32(scratch.data(), dim());
    return scratch.data();
  }

  float FromDot(float ip) const { return metric() == Metric::kCosine ? 1.0f - ip : -ip; }

  const bool per_dimension_;
  const float fixed_range_;
  bool trained_ = false;
  std::vector<float> scale_;
  std::vector<float> offset_;
  std::vector<float> weight_;  // scale^2
  std::vector<float> inv_scale_;
};

}  // namespace

std::unique_ptr<Quantizer> NewInt8Quantizer(size_t dim, Metric metric,
                                            const QuantizerParams& params) {
  return std::make_unique<Int8Quantizer>(dim, metric, params.int8_per_dimension,
                                         params.int8_fixed_range);
}

Result<std::unique_ptr<Quantizer>> LoadInt8Quantizer(size_t dim, Metric metric,
                                                     std::string_view payload) {
  PayloadReader r(payload);
  uint8_t per_dim = 0;
  uint32_t range_bits = 0;
  if (!r.ReadU8(&per_dim) || per_dim > 1 || !r.ReadU32(&range_bits)) {
    return Status::Corruption("int8 quantizer: bad payload");
  }
  float range = 0;
  std::memcpy(&range, &range_bits, 4);
  if (!std::isfinite(range) || range < 0) return Status::Corruption("int8 quantizer: bad range");
  auto q = std::make_unique<Int8Quantizer>(dim, metric, per_dim == 1, range);
  if (!q->Load(&r)) return Status::Corruption("int8 quantizer: bad payload");
  return std::unique_ptr<Quantizer>(std::move(q));
}

}  // namespace skeg::index::internal
