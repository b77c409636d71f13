// TurboQuant (Zandieh, Daliri, Hadian, Mirrokni 2025, "TurboQuant: Online Vector Quantization
// with Near-optimal Distortion Rate"), the MSE-optimal variant (their Algorithm 1):
//   1. y = x / |x|, zero-padded to d_pad (a power of two >= 8), rotated by Pi = (H D_3)(H D_2)(H
//   D_1)
//      where D_r are random +-1 diagonals from the seed and H the normalised Walsh-Hadamard
//      matrix. The paper uses a dense random rotation; a randomised Hadamard transform is the
//      standard O(d log d) stand-in (Ailon & Chazelle 2006; three rounds as in Andoni et al. 2015
//      "Practical and Optimal LSH for Angular Distance"). Each rotated coordinate of a unit vector
//      is then close to N(0, 1/d_pad), independently of the data.
//   2. Every coordinate is quantized with the b-bit Lloyd-Max quantizer of N(0, 1/d_pad)
//      (the levels of N(0, 1) below, Max 1960, scaled by 1/sqrt(d_pad)).
//   3. The code stores the b-bit indices (little-endian bit order, coordinate i at bit i*b) and
//      then |x| as f32.
//
// Query side: with r = Pi q (same padding and rotation) and y~ the level vector of a code,
//   <q, x> ~= |x| * <r, y~>   and   |q - x|^2 ~= |q|^2 + |x|^2 - 2 |x| <r, y~>.
// <r, y~> is a sum over coordinates, evaluated with a 16-entry table per nibble of the code
// (lut4_f32): one coordinate per nibble for b = 4, two for b = 2 and four for b = 1, so every bit
// width uses the same 4-bit LUT kernel with m = d_pad * b / 4 sub-codes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "index/quant/internal/kinds.h"

namespace skeg::index::internal {
namespace {

// Lloyd-Max reconstruction levels for N(0, 1) (computed to 1e-9 by the Lloyd iteration; they
// match Max 1960, table for N = 2, 4, 16). Decision thresholds are the midpoints.
constexpr float kLevels1[2] = {-0.797884561f, 0.797884561f};
constexpr float kLevels2[4] = {-1.510417608f, -0.452780035f, 0.452780035f, 1.510417608f};
constexpr float kLevels4[16] = {-2.732589571f, -2.069017227f, -1.618046386f, -1.256231197f,
                                -0.942340456f, -0.656759119f, -0.388048299f, -0.128395030f,
                                0.128395030f,  0.388048299f,  0.656759119f,  0.942340456f,
                                1.256231197f,  1.618046386f,  2.069017227f,  2.732589571f};
constexpr int kRounds = 3;

size_t PaddedDim(size_t d) {
  size_t p = 8;
  while (p < d) p *= 2;
  return p;
}

// In-place unnormalised fast Walsh-Hadamard transform of n (a power of two) floats.
void Fwht(float* v, size_t n) {
  for (size_t h = 1; h < n; h *= 2) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        const float a = v[j];
        const float b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
}

// Payload: u64 seed | u8 rounds (3).
class TurboQuantizer final : public Quantizer {
 public:
  TurboQuantizer(QuantKind kind, size_t dim, Metric metric, uint64_t seed)
      : Quantizer(kind, dim, metric),
        bits_(kind == QuantKind::kTq1   ? 1
              : kind == QuantKind::kTq2 ? 2
                                        : 4),
        dpad_(PaddedDim(dim)),
        seed_(seed),
        signs_(kRounds * dpad_) {
    SplitMix64 rng(seed);
    for (size_t i = 0; i < signs_.size(); i += 64) {
      const uint64_t word = rng.Next();
      for (size_t j = 0; j < 64 && i + j < signs_.size(); ++j) {
        signs_[i + j] = (word >> j) & 1 ? -1.0f : 1.0f;
      }
    }
    const float* unit = bits_ == 1 ? kLevels1 : bits_ == 2 ? kLevels2 : kLevels4;
    const size_t nlevels = size_t{1} << bits_;
    const float s = 1.0f / std::sqrt(static_cast<float>(dpad_));
    for (size_t c = 0; c < nlevels; ++c) levels_[c] = unit[c] * s;
    for (size_t c = 0; c + 1 < nlevels; ++c) thresholds_[c] = 0.5f * (levels_[c] + levels_[c + 1]);
  }

  size_t code_size() const override { return packed_bytes() + sizeof(float); }
  bool is_trained() const override { return true; }
  Status Train(const float*, size_t) override { return Status::Ok(); }

  void Encode(const float* x, uint8_t* code) const override {
    thread_local std::vector<float> scratch;
    scratch.resize(dpad_);
    const float norm = Rotate(x, scratch.data(), /*normalize=*/true);
    const size_t nthr = (size_t{1} << bits_) - 1;
    std::memset(code, 0, packed_bytes());
    for (size_t i = 0; i < dpad_; ++i) {
      // Number of thresholds below the value = the level index (thresholds are sorted).
      const uint32_t c = static_cast<uint32_t>(
          std::upper_bound(thresholds_, thresholds_ + nthr, scratch[i]) - thresholds_);
      const size_t bit = i * bits_;
      code[bit / 8] = static_cast<uint8_t>(code[bit / 8] | (c << (bit % 8)));
    }
    std::memcpy(code + packed_bytes(), &norm, sizeof(float));
  }

  void Decode(const uint8_t* code, float* x) const override {
    thread_local std::vector<float> scratch;
    scratch.resize(dpad_);
    const uint32_t mask = (1u << bits_) - 1;
    for (size_t i = 0; i < dpad_; ++i) {
      const size_t bit = i * bits_;
      scratch[i] = levels_[(code[bit / 8] >> (bit % 8)) & mask];
    }
    // Inverse rotation: Pi^T = D_1 H D_2 H D_3 H (H is symmetric and orthonormal here).
    const float s = 1.0f / std::sqrt(static_cast<float>(dpad_));
    for (int r = kRounds - 1; r >= 0; --r) {
      Fwht(scratch.data(), dpad_);
      const float* sg = signs_.data() + r * dpad_;
      for (size_t i = 0; i < dpad_; ++i) scratch[i] *= sg[i] * s;
    }
    const float norm = metric() == Metric::kCosine ? 1.0f : StoredNorm(code);
    for (size_t i = 0; i < dim(); ++i) x[i] = scratch[i] * norm;
  }

  void PrepareQuery(const float* q, QueryContext* ctx) const override {
    SKEG_DCHECK(ctx->owner == this);
    float* r = ctx->query.data();
    const float norm = Rotate(q, r, /*normalize=*/metric() == Metric::kCosine);
    ctx->query_norm_sqr = norm * norm;
    // One 16-entry row per nibble; a nibble holds 4 / bits_ coordinates.
    const size_t per = 4 / bits_;
    const uint32_t mask = (1u << bits_) - 1;
    float* lut = ctx->lut.data();
    for (size_t g = 0; g < lut_rows(); ++g) {
      const float* rg = r + g * per;
      for (uint32_t nib = 0; nib < 16; ++nib) {
        float s = 0;
        for (size_t j = 0; j < per; ++j) s += rg[j] * levels_[(nib >> (j * bits_)) & mask];
        lut[g * 16 + nib] = s;
      }
    }
  }

  float Distance(const QueryContext& ctx, const uint8_t* code) const override {
    return ToDistance(ctx, Kernels().lut4_f32(ctx.lut.data(), code, lut_rows()), StoredNorm(code));
  }

  void ScanCodes(const QueryContext& ctx, const uint8_t* codes, size_t n,
                 float* out) const override {
    Kernels().lut4_f32_batch(ctx.lut.data(), codes, n, lut_rows(), code_size(), out);
    for (size_t i = 0; i < n; ++i)
      out[i] = ToDistance(ctx, out[i], StoredNorm(codes + i * code_size()));
  }

  size_t MemoryUsage() const override { return signs_.size() * sizeof(float) + sizeof(*this); }

 protected:
  void SerializePayload(std::string* out) const override {
    PutU64(out, seed_);
    PutU8(out, kRounds);
  }

  void SizeContext(QueryContext* ctx) const override {
    ctx->query.assign(dpad_, 0);
    ctx->lut.assign(lut_rows() * 16, 0);
  }

 private:
  size_t packed_bytes() const { return dpad_ * bits_ / 8; }
  size_t lut_rows() const { return dpad_ * bits_ / 4; }

  float StoredNorm(const uint8_t* code) const {
    float norm = 0;
    std::memcpy(&norm, code + packed_bytes(), sizeof(float));
    return norm;
  }

  float ToDistance(const QueryContext& ctx, float ip_unit, float norm) const {
    switch (metric()) {
      case Metric::kL2:
        return ctx.query_norm_sqr + norm * norm - 2 * norm * ip_unit;
      case Metric::kInnerProduct:
        return -norm * ip_unit;
      case Metric::kCosine:
        return 1.0f - ip_unit;
    }
    return 0;
  }

  // out (d_pad floats) = Pi * pad(x) (of x / |x| when normalize); returns |x|.
  float Rotate(const float* x, float* out, bool normalize) const {
    std::memcpy(out, x, dim() * sizeof(float));
    std::fill(out + dim(), out + dpad_, 0.0f);
    const float norm = NormF32(x, dim());
    const float s = 1.0f / std::sqrt(static_cast<float>(dpad_));
    const float first = normalize && norm > 0 ? s / norm : s;
    for (int r = 0; r < kRounds; ++r) {
      const float* sg = signs_.data() + r * dpad_;
      const float scale = r == 0 ? first : s;
      for (size_t i = 0; i < dpad_; ++i) out[i] *= sg[i] * scale;
      Fwht(out, dpad_);
    }
    return norm;
  }

  const uint32_t bits_;
  const size_t dpad_;
  const uint64_t seed_;
  std::vector<float> signs_;  // kRounds x d_pad, +-1
  float levels_[16] = {};
  float thresholds_[15] = {};
};

}  // namespace

std::unique_ptr<Quantizer> NewTurboQuantizer(QuantKind kind, size_t dim, Metric metric,
                                             const QuantizerParams& params) {
  return std::make_unique<TurboQuantizer>(kind, dim, metric, params.seed);
}

Result<std::unique_ptr<Quantizer>> LoadTurboQuantizer(QuantKind kind, size_t dim, Metric metric,
                                                      std::string_view payload) {
  PayloadReader r(payload);
  uint64_t seed = 0;
  uint8_t rounds = 0;
  if (!r.ReadU64(&seed) || !r.ReadU8(&rounds) || rounds != kRounds || !r.empty()) {
    return Status::Corruption("turboquant: bad payload");
  }
  return std::unique_ptr<Quantizer>(std::make_unique<TurboQuantizer>(kind, dim, metric, seed));
}

}  // namespace skeg::index::internal
