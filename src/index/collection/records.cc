#include "index/collection/records.h"

#include <bit>
#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace skeg::index::records {
namespace {

constexpr size_t kCatalogFixedBytes = 40;

void PutBigEndian64(char* dst, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    dst[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t GetBigEndian64(const char* src) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(src[i]);
  return v;
}

Status Bad(std::string_view what) {
  return Status::Corruption("vector catalog record: " + std::string(what));
}

}  // namespace

std::string CatalogKey(std::string_view name) {
  std::string key(kCatalogPrefix);
  key += name;
  return key;
}

std::string EncodeCatalog(const CatalogEntry& e) {
  std::string out(kCatalogFixedBytes, '\0');
  char* p = out.data();
  EncodeFixed32(p, kCatalogMagic);
  EncodeFixed16(p + 4, kCatalogVersion);
  p[6] = static_cast<char>(e.spec.kind);
  p[7] = static_cast<char>(e.spec.backend);
  p[8] = static_cast<char>(e.spec.metric);
  EncodeFixed32(p + 12, e.spec.dim);
  EncodeFixed64(p + 16, e.index_id);
  EncodeFixed32(p + 24, e.spec.m);
  EncodeFixed32(p + 28, e.spec.ef_construction);
  EncodeFixed32(p + 32, std::bit_cast<uint32_t>(e.spec.alpha));
  EncodeFixed32(p + 36, static_cast<uint32_t>(e.spec.name.size()));
  out += e.spec.name;
  PutFixed32(&out, static_cast<uint32_t>(e.quantizer.size()));
  out += e.quantizer;
  PutFixed64(&out, e.graph_version);
  PutFixed32(&out, crc32c::Mask(crc32c::Value(out)));
  return out;
}

Result<CatalogEntry> DecodeCatalog(std::string_view b) {
  if (b.size() < kCatalogFixedBytes + 8) return Bad("too short");
  const uint32_t stored = DecodeFixed32(b.data() + b.size() - 4);
  if (crc32c::Unmask(stored) != crc32c::Value(b.substr(0, b.size() - 4))) {
    return Bad("CRC mismatch");
  }
  const char* p = b.data();
  if (DecodeFixed32(p) != kCatalogMagic) return Bad("bad magic");
  const uint16_t version = DecodeFixed16(p + 4);
  if (version != 1 && version != kCatalogVersion) return Bad("unsupported version");
  CatalogEntry e;
  const auto kind = static_cast<uint8_t>(p[6]);
  const auto backend = static_cast<uint8_t>(p[7]);
  const auto metric = static_cast<uint8_t>(p[8]);
  if (kind > static_cast<uint8_t>(VectorKind::kPq)) return Bad("unknown kind");
  if (backend > static_cast<uint8_t>(Backend::kDisk)) return Bad("unknown backend");
  if (metric > static_cast<uint8_t>(Metric::kCosine)) return Bad("unknown metric");
  e.spec.kind = static_cast<VectorKind>(kind);
  e.spec.backend = static_cast<Backend>(backend);
  e.spec.metric = static_cast<Metric>(metric);
  e.spec.dim = DecodeFixed32(p + 12);
  e.index_id = DecodeFixed64(p + 16);
  e.spec.m = DecodeFixed32(p + 24);
  e.spec.ef_construction = DecodeFixed32(p + 28);
  e.spec.alpha = std::bit_cast<float>(DecodeFixed32(p + 32));
  const uint32_t name_len = DecodeFixed32(p + 36);
  size_t at = kCatalogFixedBytes;
  // Version 2 appends the graph version after the quantizer.
  const size_t tail = version >= 2 ? 8 : 0;
  if (b.size() < kCatalogFixedBytes + 8 + tail) return Bad("too short");
  const size_t body_end = b.size() - 4 - tail;
  if (name_len > body_end - at || body_end - at - name_len < 4) return Bad("bad name length");
  e.spec.name.assign(b.substr(at, name_len));
  at += name_len;
  const uint32_t q_len = DecodeFixed32(p + at);
  at += 4;
  if (q_len != body_end - at) return Bad("bad quantizer length");
  e.quantizer.assign(b.substr(at, q_len));
  if (tail != 0) e.graph_version = DecodeFixed64(p + body_end);
  return e;
}

void VectorKey(uint64_t index_id, uint64_t id, char out[kVectorKeyBytes]) {
  PutBigEndian64(out, index_id);
  PutBigEndian64(out + 8, id);
}

bool ParseVectorKey(std::string_view key, uint64_t* index_id, uint64_t* id) {
  if (key.size() != kVectorKeyBytes) return false;
  *index_id = GetBigEndian64(key.data());
  *id = GetBigEndian64(key.data() + 8);
  return true;
}

void EncodeVector(std::span<const float> vec, std::string_view payload,
                  std::optional<uint64_t> attr, std::string* out) {
  out->assign(kVectorHeaderBytes, '\0');
  char* p = out->data();
  p[0] = static_cast<char>(kVectorVersion);
  p[1] = attr ? 1 : 0;
  EncodeFixed32(p + 4, static_cast<uint32_t>(vec.size()));
  EncodeFixed64(p + 8, attr.value_or(0));
  out->append(reinterpret_cast<const char*>(vec.data()), vec.size_bytes());
  out->append(payload);
}

void EncodeTombstone(std::string* out) {
  out->assign(kVectorHeaderBytes, '\0');
  (*out)[0] = static_cast<char>(kVectorVersion);
  (*out)[1] = static_cast<char>(kFlagTombstone);
}

Result<VectorView> DecodeVector(std::string_view b, uint32_t expected_dim) {
  if (b.size() < kVectorHeaderBytes) return Status::Corruption("vector record: too short");
  if (static_cast<uint8_t>(b[0]) != kVectorVersion) {
    return Status::Corruption("vector record: unsupported version");
  }
  const auto flags = static_cast<uint8_t>(b[1]);
  if ((flags & ~(kFlagAttr | kFlagTombstone)) != 0) {
    return Status::Corruption("vector record: unknown flags");
  }
  VectorView v;
  if (flags & kFlagTombstone) {
    if (flags != kFlagTombstone || b.size() != kVectorHeaderBytes ||
        DecodeFixed32(b.data() + 4) != 0) {
      return Status::Corruption("vector record: malformed tombstone");
    }
    v.tombstone = true;
    return v;
  }
  v.dim = DecodeFixed32(b.data() + 4);
  if (v.dim != expected_dim) return Status::Corruption("vector record: dimension mismatch");
  if ((b.size() - kVectorHeaderBytes) / 4 < v.dim) {
    return Status::Corruption("vector record: truncated vector");
  }
  if (flags & kFlagAttr) v.attr = DecodeFixed64(b.data() + 8);
  v.vec = b.data() + kVectorHeaderBytes;
  v.payload = b.substr(kVectorHeaderBytes + size_t{v.dim} * 4);
  return v;
}

namespace {

class RecordSource final : public VectorSource {
 public:
  RecordSource(const storage::Store* store, uint64_t index_id, uint32_t dim)
      : store_(store), index_id_(index_id), dim_(dim) {}

  Result<bool> Fetch(uint64_t id, float* vec, FetchedRecord* rec) const override {
    char key[kVectorKeyBytes];
    VectorKey(index_id_, id, key);
    Result<storage::ReadResult> r =
        store_->Get(std::string_view(key, sizeof(key)), storage::KeySpace::kVector);
    if (!r.ok()) {
      if (r.status().IsNotFound()) return false;
      return r.status();
    }
    rec->bytes = std::move(r->value);
    SKEG_ASSIGN_OR_RETURN(VectorView v, DecodeVector(rec->bytes, dim_));
    if (v.tombstone) return false;
    std::memcpy(vec, v.vec, size_t{dim_} * sizeof(float));
    rec->payload = v.payload;
    rec->attr = v.attr;
    return true;
  }

 private:
  const storage::Store* const store_;
  const uint64_t index_id_;
  const uint32_t dim_;
};

}  // namespace

std::unique_ptr<VectorSource> NewRecordSource(const storage::Store* store, uint64_t index_id,
                                              uint32_t dim) {
  return std::make_unique<RecordSource>(store, index_id, dim);
}

}  // namespace skeg::index::records
