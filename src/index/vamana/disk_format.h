// Private to index/vamana: the byte layout of the disk index file (docs/formats/vamana.md), shared
// by the writer (disk_writer.cc) and the reader (disk_index.cc). All integers little-endian.
//
// File (every section starts on a 4 KiB sector boundary; the file length is a multiple of 4 KiB):
//   sector 0      header (kHeaderBytes used, rest zero)
//   navigation    Quantizer::Serialize() bytes, then the medoid's code (code_bytes)
//   nodes         node records: nodes_per_sector per sector, or sectors_per_node per record
//   id map        static B+-tree pages: leaves (level 0) first, then each inner level, root last
//   payload       payloads, concatenated in node order
//
// Header (offsets in bytes):
//     0  u32  magic kDiskMagic ("SKVD")
//     4  u16  format version (kDiskFormatVersion)
//     6  u8   metric (Metric)
//     7  u8   navigation quantizer kind (QuantKind)
//     8  u32  header length covered by the CRC (kHeaderBytes)
//    12  u32  dim
//    16  u32  degree R
//    20  u32  medoid (kNoNode when n == 0)
//    24  u64  n
//    32  u32  record bytes
//    36  u32  code bytes
//    40  u32  nodes per sector (1 when a record spans sectors)
//    44  u32  sectors per node (1 when records are packed)
//    48  u64  file bytes
//    56  4 x  section {u64 offset, u64 length, u32 masked CRC32C of the section's bytes, u32 0}
//              in the order navigation, nodes, id map, payload
//   152  u32  quantizer bytes (the rest of the navigation section is the medoid's code)
//   156  u32  id map levels (0 when n == 0)
//   160  8 x  u32 first page of id map level l, relative to the section (l >= levels: 0)
//   192  60   reserved, 0
//   252  u32  masked CRC32C of bytes [0, 252)
//
// Node record (record bytes = RoundUp(kRecordFixedBytes + 4 dim + 4 R + R code + 4, 8)):
//     0  u64  external id
//     8  u64  attr (0 when absent)
//    16  u64  payload offset, relative to the payload section
//    24  u32  payload length
//    28  u32  masked CRC32C of the payload (0 when empty)
//    32  u32  flags: bit 0 = attr present
//    36  u32  degree (number of neighbours, <= R)
//    40  4 dim   vector, f32
//        4 R     neighbour node numbers (kNoNode past degree)
//        R code  neighbours' navigation codes, in neighbour order (0 past degree)
//        pad     0 up to record bytes - 4
//   -4   u32  masked CRC32C of (node number as u32) ++ bytes [0, record bytes - 4)
//
// Id map page (4 KiB): leaf = up to kLeafEntries {u64 id, u32 node} sorted by id; inner = up to
// kInnerKeys u64 keys, key i being the first id of child page (index * kInnerKeys + i) of the
// level below. Trailer at 4080: u32 level, u32 index within the level, u32 count,
// u32 masked CRC32C of bytes [0, 4092).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "index/distance/distance.h"
#include "index/quant/quantizer.h"

namespace skeg::index::vamana::internal {

inline constexpr uint32_t kDiskMagic = 0x44564b53;  // "SKVD" little-endian
inline constexpr uint16_t kDiskFormatVersion = 1;
inline constexpr size_t kSectorBytes = 4096;
inline constexpr size_t kHeaderBytes = 256;
inline constexpr size_t kRecordFixedBytes = 40;
inline constexpr size_t kMaxIdMapLevels = 8;
inline constexpr size_t kLeafEntryBytes = 12;
inline constexpr size_t kLeafEntries = 340;  // 340 * 12 = 4080
inline constexpr size_t kInnerKeys = 510;    // 510 * 8 = 4080
inline constexpr size_t kPageTrailerOffset = 4080;
inline constexpr uint32_t kRecordFlagAttr = 1;

enum SectionIndex : int {
  kNavSection = 0,
  kNodeSection = 1,
  kIdMapSection = 2,
  kPayloadSection = 3
};
inline constexpr int kSectionCount = 4;

struct Section {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t crc = 0;  // masked CRC32C of the section's `length` bytes
};

struct DiskHeader {
  Metric metric = Metric::kCosine;
  QuantKind nav_kind = QuantKind::kInt8;
  uint32_t dim = 0;
  uint32_t degree = 0;
  uint32_t medoid = 0;
  uint64_t n = 0;
  uint32_t record_bytes = 0;
  uint32_t code_bytes = 0;
  uint32_t nodes_per_sector = 1;
  uint32_t sectors_per_node = 1;
  uint64_t file_bytes = 0;
  Section sections[kSectionCount];
  uint32_t quantizer_bytes = 0;
  uint32_t idmap_levels = 0;
  uint32_t idmap_level_start[kMaxIdMapLevels] = {};
};

// Bytes of one node record (multiple of 8), or 0 when it would exceed uint32.
uint64_t RecordBytes(uint64_t dim, uint64_t degree, uint64_t code_bytes);

// Packing of records into sectors: records <= 4 KiB share sectors (floor(4096 / record) each),
// larger ones take ceil(record / 4096) whole sectors.
struct NodePacking {
  uint32_t nodes_per_sector = 1;
  uint32_t sectors_per_node = 1;
  // Sectors taken by n records.
  uint64_t Sectors(uint64_t n) const;
};
NodePacking PackingFor(uint32_t record_bytes);

// Pages per id-map level for n entries (levels until one page), and their starts.
struct IdMapGeometry {
  uint32_t levels = 0;
  uint64_t level_pages[kMaxIdMapLevels] = {};
  uint64_t level_start[kMaxIdMapLevels] = {};
  uint64_t total_pages = 0;
};
IdMapGeometry IdMapGeometryFor(uint64_t n);

// Encodes `h` into dst[0, kHeaderBytes), CRC included.
void EncodeHeader(const DiskHeader& h, char* dst);
// Decodes and checks magic, version, CRC and enums. Errors: kCorruption ("<path>: ...").
Status DecodeHeader(const char* src, std::string_view path, DiskHeader* h);

// Checks that every field of a decoded header equals what the writer derives from (n, dim, R,
// code bytes): limits, record size and packing, section offsets and lengths, id-map geometry,
// and that the file is exactly `file_size` bytes, so a header that passes can address nothing
// outside the file. Errors: kCorruption ("<path>: vamana header: ...").
Status CheckLayout(const DiskHeader& h, uint64_t file_size, std::string_view path);

// The stored (masked) CRC of node `node`'s record rec[0, record_bytes).
uint32_t RecordCrc(uint32_t node, const char* rec, size_t record_bytes);
// The stored (masked) CRC of an id-map page.
uint32_t PageCrc(const char* page);

// Field offsets inside a record.
struct RecordLayout {
  size_t vector = kRecordFixedBytes;
  size_t neighbors = 0;
  size_t codes = 0;
  size_t crc = 0;
};
RecordLayout RecordLayoutFor(size_t dim, size_t degree, size_t record_bytes);

}  // namespace skeg::index::vamana::internal
