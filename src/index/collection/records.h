// The collection's value-log records: catalog records (one per index) and vector records (one
// per vector). Byte tables below and in docs/formats/vectors.md. Private to index/collection.
//
// Catalog record: key "idx:" + name (catalog key space). Value, little-endian:
//   offset  size  field
//   0       4     magic 0x43564b53 ("SKVC")
//   4       2     format version (2; version 1 records, without the graph version, still decode)
//   6       1     kind (0 f32, 1 int8, 2 binary, 3 tq1, 4 tq2, 5 tq4, 6 pq)
//   7       1     backend (0 flat, 1 disk)
//   8       1     metric (0 l2, 1 ip, 2 cosine)
//   9       3     reserved (0)
//   12      4     dim
//   16      8     index id (names the index's vector records; never reused while any exist)
//   24      4     M (graph degree R)
//   28      4     EF_CONSTRUCTION (build list L)
//   32      4     alpha (f32)
//   36      4     name length N
//   40      N     name
//   40+N    4     quantizer length Q (0 for kind f32)
//   44+N    Q     Quantizer::Serialize() bytes (docs/quantizers.md), trained state included
//   44+N+Q  8     graph version (disk backend: the index file indexes/<id>/v<version>.vam in
//                 effect; 0 = no graph yet; always 0 for flat). Absent in format version 1.
//   52+N+Q  4     masked CRC32C of all preceding bytes
//
// Vector record: key = [u64 index id][u64 vector id], both big-endian (16 bytes; records of one
// index sort together, by id) in the vector key space. Value, little-endian:
//   offset  size   field
//   0       1      format version (1)
//   1       1      flags: bit 0 = ATTR present; bit 1 = tombstone (disk backend: the id is
//                  deleted from the graph version in effect; dim 0, no vector, no payload);
//                  other bits 0
//   2       2      reserved (0)
//   4       4      dim
//   8       8      attr (0 when absent)
//   16      4*dim  the vector, f32
//   16+4d   rest   payload (absent when empty)
// The value log's record CRC covers the vector record; it has no CRC of its own.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "index/collection/collection.h"
#include "index/flat/flat.h"
#include "storage/vlog/store.h"

namespace skeg::index::records {

inline constexpr uint32_t kCatalogMagic = 0x43564b53;
inline constexpr uint16_t kCatalogVersion = 2;
inline constexpr uint8_t kFlagAttr = 1;
inline constexpr uint8_t kFlagTombstone = 2;
inline constexpr uint8_t kVectorVersion = 1;
inline constexpr std::string_view kCatalogPrefix = "idx:";
inline constexpr size_t kVectorKeyBytes = 16;
inline constexpr size_t kVectorHeaderBytes = 16;

struct CatalogEntry {
  IndexSpec spec;
  uint64_t index_id = 0;
  std::string quantizer;  // Serialize() bytes; empty for f32
  uint64_t graph_version = 0;
};

std::string CatalogKey(std::string_view name);
std::string EncodeCatalog(const CatalogEntry& entry);
// Errors: kCorruption naming what failed (magic, version, CRC, field).
Result<CatalogEntry> DecodeCatalog(std::string_view bytes);

// Writes the 16-byte key of (index_id, id) into out.
void VectorKey(uint64_t index_id, uint64_t id, char out[kVectorKeyBytes]);
// Parses a vector key. False when it is not 16 bytes.
bool ParseVectorKey(std::string_view key, uint64_t* index_id, uint64_t* id);

// Appends the value of a vector record to *out (cleared first).
void EncodeVector(std::span<const float> vec, std::string_view payload,
                  std::optional<uint64_t> attr, std::string* out);

// Appends the value of a tombstone record to *out (cleared first).
void EncodeTombstone(std::string* out);

// A decoded vector record; views point into the bytes given to DecodeVector.
struct VectorView {
  uint32_t dim = 0;
  const char* vec = nullptr;  // dim little-endian f32 (unaligned)
  std::string_view payload;
  std::optional<uint64_t> attr;
  bool tombstone = false;  // then dim is 0 and vec null
};
// Errors: kCorruption (short, bad version or flags, dim mismatch with `expected_dim`).
Result<VectorView> DecodeVector(std::string_view bytes, uint32_t expected_dim);

// A VectorSource reading the vector records of one index from the value log (the flat
// backend's re-rank, payloads of search results). A tombstone or missing record reads as absent.
std::unique_ptr<VectorSource> NewRecordSource(const storage::Store* store, uint64_t index_id,
                                              uint32_t dim);

}  // namespace skeg::index::records
