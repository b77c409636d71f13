#include "index/quant/quantizer.h"

#include <cmath>
#include <string>

#include "common/ascii.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "index/quant/internal/kinds.h"

namespace skeg::index {
namespace {

// Serialized quantizer parameters (little-endian):
//
//   offset  size  field
//   0       4     magic 0x5a514b53 ("SKQZ")
//   4       2     format version (1)
//   6       1     kind (QuantKind)
//   7       1     metric (Metric)
//   8       4     dim
//   12      4     payload bytes P
//   16      P     payload (per kind; see each kind's SerializePayload)
//   16+P    4     masked CRC32C (crc32c::Mask) of bytes [0, 16+P)
constexpr uint32_t kMagic = 0x5a514b53;
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 16;

}  // namespace

std::string_view QuantKindName(QuantKind kind) {
  switch (kind) {
    case QuantKind::kInt8:
      return "int8";
    case QuantKind::kBinary:
      return "binary";
    case QuantKind::kTq1:
      return "tq1";
    case QuantKind::kTq2:
      return "tq2";
    case QuantKind::kTq4:
      return "tq4";
    case QuantKind::kPq:
      return "pq";
  }
  return "unknown";
}

Result<QuantKind> ParseQuantKind(std::string_view name) {
  for (QuantKind k : {QuantKind::kInt8, QuantKind::kBinary, QuantKind::kTq1, QuantKind::kTq2,
                      QuantKind::kTq4, QuantKind::kPq}) {
    if (EqualsIgnoreCase(name, QuantKindName(k))) return k;
  }
  return Status::InvalidArgument("unknown quantizer kind '" + std::string(name) +
                                 "' (expected int8, binary, tq1, tq2, tq4 or pq)");
}

Status QuantizerParams::Validate() const {
  if (!std::isfinite(int8_fixed_range) || int8_fixed_range < 0) {
    return Status::InvalidArgument("int8 fixed range must be a finite number >= 0");
  }
  if (pq_k < 2 || pq_k > 256) {
    return Status::InvalidArgument("pq: K must be in 2..256, got " + std::to_string(pq_k));
  }
  if (train_iterations == 0) return Status::InvalidArgument("train_iterations must be >= 1");
  if (max_train_rows < 256) return Status::InvalidArgument("max_train_rows must be >= 256");
  return Status::Ok();
}

Status CheckQuantizerDim(QuantKind kind, size_t dim, const QuantizerParams& params) {
  const std::string name(QuantKindName(kind));
  if (dim == 0 || dim > kMaxQuantDim) {
    return Status::InvalidArgument(name + ": dimension " + std::to_string(dim) + " is outside 1.." +
                                   std::to_string(kMaxQuantDim));
  }
  if (kind == QuantKind::kPq && params.pq_m != 0) {
    if (params.pq_m > dim) {
      return Status::InvalidArgument("pq: M=" + std::to_string(params.pq_m) +
                                     " exceeds the dimension " + std::to_string(dim));
    }
    if (dim % params.pq_m != 0) {
      return Status::InvalidArgument("pq: dimension " + std::to_string(dim) +
                                     " is not divisible by M=" + std::to_string(params.pq_m));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Quantizer>> MakeQuantizer(QuantKind kind, size_t dim, Metric metric,
                                                 const QuantizerParams& params) {
  SKEG_RETURN_IF_ERROR(params.Validate());
  SKEG_RETURN_IF_ERROR(CheckQuantizerDim(kind, dim, params));
  switch (kind) {
    case QuantKind::kInt8:
      return internal::NewInt8Quantizer(dim, metric, params);
    case QuantKind::kBinary:
      return internal::NewBinaryQuantizer(dim, metric);
    case QuantKind::kTq1:
    case QuantKind::kTq2:
    case QuantKind::kTq4:
      return internal::NewTurboQuantizer(kind, dim, metric, params);
    case QuantKind::kPq:
      return internal::NewPqQuantizer(dim, metric, params);
  }
  return Status::InvalidArgument("unknown quantizer kind");
}

QueryContext Quantizer::NewQueryContext() const {
  QueryContext ctx;
  ctx.owner = this;
  SizeContext(&ctx);
  return ctx;
}

std::string Quantizer::Serialize() const {
  std::string out(kHeaderBytes, '\0');
  SerializePayload(&out);
  const size_t payload = out.size() - kHeaderBytes;
  EncodeFixed32(out.data(), kMagic);
  EncodeFixed16(out.data() + 4, kVersion);
  out[6] = static_cast<char>(kind_);
  out[7] = static_cast<char>(metric_);
  EncodeFixed32(out.data() + 8, static_cast<uint32_t>(dim_));
  EncodeFixed32(out.data() + 12, static_cast<uint32_t>(payload));
  internal::PutU32(&out, crc32c::Mask(crc32c::Value(out)));
  return out;
}

Result<std::unique_ptr<Quantizer>> DeserializeQuantizer(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes + 4) return Status::Corruption("quantizer: truncated header");
  const size_t body = bytes.size() - 4;
  const uint32_t stored = crc32c::Unmask(DecodeFixed32(bytes.data() + body));
  if (stored != crc32c::Value(bytes.data(), body)) {
    return Status::Corruption("quantizer: checksum mismatch");
  }
  if (DecodeFixed32(bytes.data()) != kMagic) return Status::Corruption("quantizer: bad magic");
  const uint16_t version = DecodeFixed16(bytes.data() + 4);
  if (version != kVersion) {
    return Status::Corruption("quantizer: unsupported format version " + std::to_string(version));
  }
  const auto kind_byte = static_cast<uint8_t>(bytes[6]);
  const auto metric_byte = static_cast<uint8_t>(bytes[7]);
  const uint32_t dim = DecodeFixed32(bytes.data() + 8);
  const uint32_t payload = DecodeFixed32(bytes.data() + 12);
  if (payload != body - kHeaderBytes) return Status::Corruption("quantizer: bad payload length");
  if (metric_byte > static_cast<uint8_t>(Metric::kCosine)) {
    return Status::Corruption("quantizer: bad metric");
  }
  if (kind_byte < static_cast<uint8_t>(QuantKind::kInt8) ||
      kind_byte > static_cast<uint8_t>(QuantKind::kPq)) {
    return Status::Corruption("quantizer: bad kind");
  }
  const auto kind = static_cast<QuantKind>(kind_byte);
  const auto metric = static_cast<Metric>(metric_byte);
  if (dim == 0 || dim > kMaxQuantDim) return Status::Corruption("quantizer: bad dimension");
  const std::string_view p = bytes.substr(kHeaderBytes, payload);
  switch (kind) {
    case QuantKind::kInt8:
      return internal::LoadInt8Quantizer(dim, metric, p);
    case QuantKind::kBinary:
      return internal::LoadBinaryQuantizer(dim, metric, p);
    case QuantKind::kTq1:
    case QuantKind::kTq2:
    case QuantKind::kTq4:
      return internal::LoadTurboQuantizer(kind, dim, metric, p);
    case QuantKind::kPq:
      return internal::LoadPqQuantizer(dim, metric, p);
  }
  return Status::Corruption("quantizer: bad kind");
}

}  // namespace skeg::index
