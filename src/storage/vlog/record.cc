#include "storage/vlog/record.h"

#include "common/coding.h"
#include "common/crc32c.h"
#include "storage/vlog/store.h"

namespace skeg::storage {

namespace {
// The value of a batch holds many values and their headers.
constexpr uint64_t kMaxRecordValueBytes = 1ull << 30;
}  // namespace

bool IsKnownRecordType(uint8_t type) {
  return (type >= static_cast<uint8_t>(RecordType::kPut) &&
          type <= static_cast<uint8_t>(RecordType::kExpire)) ||
         (type >= static_cast<uint8_t>(RecordType::kVectorPut) &&
          type <= static_cast<uint8_t>(RecordType::kCatalogDelete));
}

KeySpace KeySpaceOf(RecordType type) {
  switch (type) {
    case RecordType::kVectorPut:
    case RecordType::kVectorDelete:
      return KeySpace::kVector;
    case RecordType::kCatalogPut:
    case RecordType::kCatalogDelete:
      return KeySpace::kCatalog;
    default:
      return KeySpace::kKv;
  }
}

bool IsDeleteType(RecordType type) {
  return type == RecordType::kDelete || type == RecordType::kVectorDelete ||
         type == RecordType::kCatalogDelete;
}

RecordType PutTypeFor(KeySpace space) {
  switch (space) {
    case KeySpace::kVector:
      return RecordType::kVectorPut;
    case KeySpace::kCatalog:
      return RecordType::kCatalogPut;
    case KeySpace::kKv:
      break;
  }
  return RecordType::kPut;
}

RecordType DeleteTypeFor(KeySpace space) {
  switch (space) {
    case KeySpace::kVector:
      return RecordType::kVectorDelete;
    case KeySpace::kCatalog:
      return RecordType::kCatalogDelete;
    case KeySpace::kKv:
      break;
  }
  return RecordType::kDelete;
}

void FinishRecordHeader(char* record, RecordType type, uint64_t sequence, uint32_t key_len,
                        uint32_t value_len, int64_t expire_at, uint32_t body_crc) {
  record[4] = static_cast<char>(type);
  record[5] = 0;
  EncodeFixed16(record + 6, 0);
  EncodeFixed64(record + 8, sequence);
  EncodeFixed32(record + 16, key_len);
  EncodeFixed32(record + 20, value_len);
  EncodeFixed64(record + 24, static_cast<uint64_t>(expire_at));
  uint32_t crc = crc32c::Extend(body_crc, record + 4, kRecordHeaderSize - 4);
  EncodeFixed32(record, crc32c::Mask(crc));
}

void AppendRecord(std::string* dst, RecordType type, uint64_t sequence, std::string_view key,
                  std::string_view value, int64_t expire_at) {
  size_t start = dst->size();
  dst->resize(start + kRecordHeaderSize);
  dst->append(key);
  dst->append(value);
  uint32_t body_crc =
      crc32c::Value(dst->data() + start + kRecordHeaderSize, key.size() + value.size());
  FinishRecordHeader(dst->data() + start, type, sequence, static_cast<uint32_t>(key.size()),
                     static_cast<uint32_t>(value.size()), expire_at, body_crc);
}

Result<RecordHeader> DecodeRecordHeader(std::string_view data) {
  SKEG_DCHECK(data.size() >= kRecordHeaderSize);
  const char* p = data.data();
  RecordHeader h;
  h.masked_crc = DecodeFixed32(p);
  auto type = static_cast<uint8_t>(p[4]);
  if (!IsKnownRecordType(type))
    return Status::Corruption("unknown record type " + std::to_string(type));
  if (p[5] != 0 || DecodeFixed16(p + 6) != 0) return Status::Corruption("reserved header bits set");
  h.type = static_cast<RecordType>(type);
  h.sequence = DecodeFixed64(p + 8);
  h.key_len = DecodeFixed32(p + 16);
  h.value_len = DecodeFixed32(p + 20);
  h.expire_at = static_cast<int64_t>(DecodeFixed64(p + 24));
  if (h.key_len > kMaxKeyBytes)
    return Status::Corruption("key length " + std::to_string(h.key_len));
  if (h.value_len > kMaxRecordValueBytes) {
    return Status::Corruption("value length " + std::to_string(h.value_len));
  }
  if (h.type == RecordType::kBatch && h.key_len != 0) return Status::Corruption("batch with a key");
  if (h.expire_at < 0) return Status::Corruption("negative expiry");
  return h;
}

Result<RecordView> DecodeRecord(std::string_view data) {
  if (data.size() < kRecordHeaderSize) return Status::Corruption("truncated record header");
  SKEG_ASSIGN_OR_RETURN(RecordHeader h, DecodeRecordHeader(data));
  if (data.size() < h.record_size()) return Status::Corruption("truncated record body");
  uint32_t crc = crc32c::Value(data.data() + kRecordHeaderSize, h.key_len + h.value_len);
  crc = crc32c::Extend(crc, data.data() + 4, kRecordHeaderSize - 4);
  if (crc32c::Mask(crc) != h.masked_crc) return Status::Corruption("record checksum mismatch");
  RecordView v;
  v.header = h;
  v.key = data.substr(kRecordHeaderSize, h.key_len);
  v.value = data.substr(kRecordHeaderSize + h.key_len, h.value_len);
  return v;
}

}  // namespace skeg::storage
