#include "index/vamana/disk_format.h"

#include <cstring>
#include <string>

#include "common/coding.h"
#include "common/crc32c.h"
#include "index/vamana/disk_index.h"
#include "index/vamana/graph.h"

namespace skeg::index::vamana::internal {

namespace {

constexpr size_t kSectionTable = 56;
constexpr size_t kSectionEntryBytes = 24;
constexpr size_t kQuantizerBytesAt = 152;
constexpr size_t kLevelsAt = 156;
constexpr size_t kLevelStartAt = 160;
constexpr size_t kHeaderCrcAt = kHeaderBytes - 4;

Status Bad(std::string_view path, std::string_view what) {
  return Status::Corruption(std::string(path) + ": vamana header: " + std::string(what));
}

}  // namespace

uint64_t RecordBytes(uint64_t dim, uint64_t degree, uint64_t code_bytes) {
  const uint64_t raw = kRecordFixedBytes + 4 * dim + 4 * degree + degree * code_bytes + 4;
  const uint64_t rounded = (raw + 7) & ~uint64_t{7};
  return rounded > UINT32_MAX ? 0 : rounded;
}

uint64_t NodePacking::Sectors(uint64_t n) const {
  if (nodes_per_sector > 1) return (n + nodes_per_sector - 1) / nodes_per_sector;
  return n * sectors_per_node;
}

NodePacking PackingFor(uint32_t record_bytes) {
  NodePacking p;
  if (record_bytes <= kSectorBytes) {
    p.nodes_per_sector = static_cast<uint32_t>(kSectorBytes / record_bytes);
    p.sectors_per_node = 1;
  } else {
    p.nodes_per_sector = 1;
    p.sectors_per_node = static_cast<uint32_t>((record_bytes + kSectorBytes - 1) / kSectorBytes);
  }
  return p;
}

IdMapGeometry IdMapGeometryFor(uint64_t n) {
  IdMapGeometry g;
  if (n == 0) return g;
  uint64_t pages = (n + kLeafEntries - 1) / kLeafEntries;
  // 340 * 510^7 exceeds 2^64 / 12, so kMaxIdMapLevels always suffices for a u32 node count.
  while (true) {
    g.level_start[g.levels] = g.total_pages;
    g.level_pages[g.levels] = pages;
    g.total_pages += pages;
    ++g.levels;
    if (pages == 1 || g.levels == kMaxIdMapLevels) break;
    pages = (pages + kInnerKeys - 1) / kInnerKeys;
  }
  return g;
}

void EncodeHeader(const DiskHeader& h, char* dst) {
  std::memset(dst, 0, kHeaderBytes);
  EncodeFixed32(dst + 0, kDiskMagic);
  EncodeFixed16(dst + 4, kDiskFormatVersion);
  dst[6] = static_cast<char>(h.metric);
  dst[7] = static_cast<char>(h.nav_kind);
  EncodeFixed32(dst + 8, kHeaderBytes);
  EncodeFixed32(dst + 12, h.dim);
  EncodeFixed32(dst + 16, h.degree);
  EncodeFixed32(dst + 20, h.medoid);
  EncodeFixed64(dst + 24, h.n);
  EncodeFixed32(dst + 32, h.record_bytes);
  EncodeFixed32(dst + 36, h.code_bytes);
  EncodeFixed32(dst + 40, h.nodes_per_sector);
  EncodeFixed32(dst + 44, h.sectors_per_node);
  EncodeFixed64(dst + 48, h.file_bytes);
  for (int i = 0; i < kSectionCount; ++i) {
    char* e = dst + kSectionTable + static_cast<size_t>(i) * kSectionEntryBytes;
    EncodeFixed64(e, h.sections[i].offset);
    EncodeFixed64(e + 8, h.sections[i].length);
    EncodeFixed32(e + 16, h.sections[i].crc);
  }
  EncodeFixed32(dst + kQuantizerBytesAt, h.quantizer_bytes);
  EncodeFixed32(dst + kLevelsAt, h.idmap_levels);
  for (size_t l = 0; l < kMaxIdMapLevels; ++l) {
    EncodeFixed32(dst + kLevelStartAt + 4 * l, h.idmap_level_start[l]);
  }
  EncodeFixed32(dst + kHeaderCrcAt, crc32c::Mask(crc32c::Value(dst, kHeaderCrcAt)));
}

Status DecodeHeader(const char* src, std::string_view path, DiskHeader* h) {
  if (DecodeFixed32(src) != kDiskMagic) return Bad(path, "bad magic (not a vamana index file)");
  if (crc32c::Unmask(DecodeFixed32(src + kHeaderCrcAt)) != crc32c::Value(src, kHeaderCrcAt)) {
    return Bad(path, "CRC mismatch");
  }
  const uint16_t version = DecodeFixed16(src + 4);
  if (version != kDiskFormatVersion) {
    return Bad(path, "unsupported format version " + std::to_string(version));
  }
  const auto metric = static_cast<uint8_t>(src[6]);
  if (metric > static_cast<uint8_t>(Metric::kCosine)) return Bad(path, "bad metric");
  h->metric = static_cast<Metric>(metric);
  const auto kind = static_cast<uint8_t>(src[7]);
  if (kind < static_cast<uint8_t>(QuantKind::kInt8) ||
      kind > static_cast<uint8_t>(QuantKind::kPq)) {
    return Bad(path, "bad navigation quantizer kind");
  }
  h->nav_kind = static_cast<QuantKind>(kind);
  if (DecodeFixed32(src + 8) != kHeaderBytes) return Bad(path, "bad header length");
  h->dim = DecodeFixed32(src + 12);
  h->degree = DecodeFixed32(src + 16);
  h->medoid = DecodeFixed32(src + 20);
  h->n = DecodeFixed64(src + 24);
  h->record_bytes = DecodeFixed32(src + 32);
  h->code_bytes = DecodeFixed32(src + 36);
  h->nodes_per_sector = DecodeFixed32(src + 40);
  h->sectors_per_node = DecodeFixed32(src + 44);
  h->file_bytes = DecodeFixed64(src + 48);
  for (int i = 0; i < kSectionCount; ++i) {
    const char* e = src + kSectionTable + static_cast<size_t>(i) * kSectionEntryBytes;
    h->sections[i].offset = DecodeFixed64(e);
    h->sections[i].length = DecodeFixed64(e + 8);
    h->sections[i].crc = DecodeFixed32(e + 16);
  }
  h->quantizer_bytes = DecodeFixed32(src + kQuantizerBytesAt);
  h->idmap_levels = DecodeFixed32(src + kLevelsAt);
  for (size_t l = 0; l < kMaxIdMapLevels; ++l) {
    h->idmap_level_start[l] = DecodeFixed32(src + kLevelStartAt + 4 * l);
  }
  return Status::Ok();
}

Status CheckLayout(const DiskHeader& h, uint64_t file_size, std::string_view path) {
  if (h.dim == 0 || h.dim > kMaxQuantDim) return Bad(path, "bad dimension");
  if (h.degree == 0 || h.degree > kMaxDiskDegree) return Bad(path, "bad degree");
  if (h.n >= kNoNode) return Bad(path, "bad node count");
  if (h.n > 0 ? h.medoid >= h.n : h.medoid != kNoNode) return Bad(path, "bad medoid");
  if (h.code_bytes == 0 || h.record_bytes != RecordBytes(h.dim, h.degree, h.code_bytes) ||
      h.record_bytes > kMaxDiskRecordBytes) {
    return Bad(path, "bad record size");
  }
  const NodePacking packing = PackingFor(h.record_bytes);
  if (h.nodes_per_sector != packing.nodes_per_sector ||
      h.sectors_per_node != packing.sectors_per_node) {
    return Bad(path, "bad record packing");
  }
  if (file_size != h.file_bytes) {
    return Bad(path, (file_size < h.file_bytes ? "truncated: " : "size mismatch: ") +
                         std::to_string(file_size) + " bytes, header says " +
                         std::to_string(h.file_bytes));
  }
  const auto round_up = [](uint64_t v) {
    return (v + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
  };
  const Section& nav = h.sections[kNavSection];
  const Section& nodes = h.sections[kNodeSection];
  const Section& idmap = h.sections[kIdMapSection];
  const Section& payload = h.sections[kPayloadSection];
  const IdMapGeometry geo = IdMapGeometryFor(h.n);
  // Every length is bounded by the file first, so the sums below cannot wrap.
  bool ok = nav.length <= file_size && payload.length <= file_size && nav.offset == kSectorBytes &&
            nav.length == uint64_t{h.quantizer_bytes} + (h.n > 0 ? h.code_bytes : 0) &&
            nodes.offset == round_up(kSectorBytes + nav.length) &&
            nodes.length == packing.Sectors(h.n) * kSectorBytes &&
            idmap.offset == nodes.offset + nodes.length &&
            idmap.length == geo.total_pages * kSectorBytes &&
            payload.offset == idmap.offset + idmap.length &&
            payload.offset + round_up(payload.length) == h.file_bytes &&
            h.idmap_levels == geo.levels;
  for (uint32_t l = 0; ok && l < kMaxIdMapLevels; ++l) {
    ok = h.idmap_level_start[l] == (l < geo.levels ? geo.level_start[l] : 0);
  }
  if (!ok) return Bad(path, "inconsistent section table");
  return Status::Ok();
}

uint32_t RecordCrc(uint32_t node, const char* rec, size_t record_bytes) {
  char prefix[4];
  EncodeFixed32(prefix, node);
  return crc32c::Mask(crc32c::Extend(crc32c::Value(prefix, 4), rec, record_bytes - 4));
}

uint32_t PageCrc(const char* page) { return crc32c::Mask(crc32c::Value(page, kSectorBytes - 4)); }

RecordLayout RecordLayoutFor(size_t dim, size_t degree, size_t record_bytes) {
  RecordLayout l;
  l.vector = kRecordFixedBytes;
  l.neighbors = l.vector + 4 * dim;
  l.codes = l.neighbors + 4 * degree;
  l.crc = record_bytes - 4;
  return l;
}

}  // namespace skeg::index::vamana::internal
