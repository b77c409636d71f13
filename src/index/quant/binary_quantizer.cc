// Binary (sign-bit) quantizer: bit i of the code is x_i > 0 (bit i % 8 of byte i / 8), and the
// distance is the Hamming distance between the query's and the code's sign bits. It orders
// candidates for navigation only; callers re-rank with exact f32 distances.
#include <cmath>
#include <cstring>

#include "index/quant/internal/kinds.h"

namespace skeg::index::internal {
namespace {

void PackSigns(const float* x, size_t d, uint8_t* code) {
  std::memset(code, 0, (d + 7) / 8);
  for (size_t i = 0; i < d; ++i) {
    if (x[i] > 0) code[i / 8] = static_cast<uint8_t>(code[i / 8] | (1u << (i % 8)));
  }
}

// Payload: empty.
class BinaryQuantizer final : public Quantizer {
 public:
  BinaryQuantizer(size_t dim, Metric metric) : Quantizer(QuantKind::kBinary, dim, metric) {}

  size_t code_size() const override { return (dim() + 7) / 8; }
  bool is_trained() const override { return true; }
  Status Train(const float*, size_t) override { return Status::Ok(); }

  void Encode(const float* x, uint8_t* code) const override { PackSigns(x, dim(), code); }

  void Decode(const uint8_t* code, float* x) const override {
    const float v = 1.0f / std::sqrt(static_cast<float>(dim()));
    for (size_t i = 0; i < dim(); ++i) x[i] = (code[i / 8] >> (i % 8)) & 1 ? v : -v;
  }

  void PrepareQuery(const float* q, QueryContext* ctx) const override {
    PackSigns(q, dim(), ctx->bits.data());
  }

  float Distance(const QueryContext& ctx, const uint8_t* code) const override {
    return static_cast<float>(Kernels().hamming(ctx.bits.data(), code, code_size()));
  }

  void ScanCodes(const QueryContext& ctx, const uint8_t* codes, size_t n,
                 float* out) const override {
    const DistanceKernels& k = Kernels();
    constexpr size_t kChunk = 256;
    uint32_t counts[kChunk];
    for (size_t i = 0; i < n; i += kChunk) {
      const size_t c = n - i < kChunk ? n - i : kChunk;
      k.hamming_batch(ctx.bits.data(), codes + i * code_size(), c, code_size(), counts);
      for (size_t j = 0; j < c; ++j) out[i + j] = static_cast<float>(counts[j]);
    }
  }

  size_t MemoryUsage() const override { return sizeof(*this); }

 protected:
  void SerializePayload(std::string*) const override {}
  void SizeContext(QueryContext* ctx) const override { ctx->bits.assign(code_size(), 0); }
};

}  // namespace

std::unique_ptr<Quantizer> NewBinaryQuantizer(size_t dim, Metric metric) {
  return std::make_unique<BinaryQuantizer>(dim, metric);
}

Result<std::unique_ptr<Quantizer>> LoadBinaryQuantizer(size_t dim, Metric metric,
                                                       std::string_view payload) {
  if (!payload.empty()) return Status::Corruption("binary quantizer: unexpected payload");
  return NewBinaryQuantizer(dim, metric);
}

}  // namespace skeg::index::internal
