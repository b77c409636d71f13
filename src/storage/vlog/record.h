// Value-log record format: encoding and decoding.
//
// Every record is a 32-byte header followed by the key and the value (docs/formats/vlog.md):
//
//   offset size  field
//   0      4     crc       masked CRC32C (crc32c::Mask) of key ++ value ++ header[4..32)
//   4      1     type      RecordType
//   5      1     flags     0 (reserved; a reader rejects unknown bits)
//   6      2     reserved  0
//   8      8     sequence  global write order (inner records of a batch store 0)
//   16     4     key_len   bytes of key (at most kMaxKeyBytes)
//   20     4     value_len bytes of value
//   24     8     expire_at expiry, Unix milliseconds (int64), 0 = never
//   32     ...   key, then value
//
// The CRC covers the body first and the header fields last so that writer threads can
// checksum their (possibly large) key and value in parallel, while the committer only
// extends that partial CRC over the 28 header bytes once it has assigned the sequence number.
//
// A kBatch record makes a group of writes atomic: its key is empty and its value is the
// concatenation of complete inner records (kPut/kDelete/kExpire, each with its own CRC and
// sequence 0). The outer CRC covers the inner records, so after a crash a batch is either
// entirely valid or entirely discarded. Inner record i has sequence outer.sequence + i.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skeg::storage {

enum class RecordType : uint8_t {
  kPut = 1,     // key = value (with optional expiry)
  kDelete = 2,  // key removed; value empty (a tombstone)
  kBatch = 3,   // atomic group of inner records
  kExpire = 4,  // like kPut, written when only the expiry of an existing value changed
  // Vector-index records (KeySpace::kVector and kCatalog). They behave exactly like kPut and
  // kDelete in their own key space; the index layer defines their keys and values.
  kVectorPut = 16,      // one vector: key = index id ++ vector id, value = vector, payload, attr
  kVectorDelete = 17,   // vector tombstone
  kCatalogPut = 18,     // index create (or metadata change): key = index name
  kCatalogDelete = 19,  // index drop
};

// Independent key spaces of the one log: the same key bytes in two spaces are two keys.
enum class KeySpace : uint8_t {
  kKv = 0,       // Redis keys
  kVector = 1,   // vectors of every index
  kCatalog = 2,  // the index catalog
};

// The key space of a non-batch record type.
KeySpace KeySpaceOf(RecordType type);
// True for the tombstone types (kDelete, kVectorDelete, kCatalogDelete).
bool IsDeleteType(RecordType type);
// The put / delete record type of a key space.
RecordType PutTypeFor(KeySpace space);
RecordType DeleteTypeFor(KeySpace space);

inline constexpr size_t kRecordHeaderSize = 32;

// Decoded header fields.
struct RecordHeader {
  uint32_t masked_crc = 0;
  RecordType type = RecordType::kPut;
  uint64_t sequence = 0;
  uint32_t key_len = 0;
  uint32_t value_len = 0;
  int64_t expire_at = 0;

  size_t record_size() const { return kRecordHeaderSize + key_len + value_len; }
};

// A decoded record; views point into the buffer passed to DecodeRecord.
struct RecordView {
  RecordHeader header;
  std::string_view key;
  std::string_view value;
};

// True for types this version understands.
bool IsKnownRecordType(uint8_t type);

// Appends a complete record (header with CRC, key, value) to `dst`.
void AppendRecord(std::string* dst, RecordType type, uint64_t sequence, std::string_view key,
                  std::string_view value, int64_t expire_at);

// Writes the header of a record whose body (key ++ value) already sits right after it at
// `record` and whose body CRC is `body_crc` (crc32c::Value(key ++ value)); computes the final
// masked CRC. REQUIRES: `record` has kRecordHeaderSize + key_len + value_len bytes.
void FinishRecordHeader(char* record, RecordType type, uint64_t sequence, uint32_t key_len,
                        uint32_t value_len, int64_t expire_at, uint32_t body_crc);

// Parses the fixed header at `data` (REQUIRES: data.size() >= kRecordHeaderSize) without
// checking the CRC. Errors: kCorruption for an unknown type, non-zero reserved bits, or
// lengths above the limits.
Result<RecordHeader> DecodeRecordHeader(std::string_view data);

// Decodes and verifies one whole record at the start of `data`. Errors: kCorruption when the
// header is invalid, `data` is shorter than the record claims, or the CRC does not match.
Result<RecordView> DecodeRecord(std::string_view data);

}  // namespace skeg::storage
