// WriteDiskIndex: lays a graph, its rows and their metadata out as one disk index file
// (disk_format.h, docs/formats/vamana.md). All section offsets follow from n, dim, R and the
// code size, so the node records and the payloads stream out concurrently to their own
// sections, and the id map (which needs every id sorted) is written last, before the header.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"
#include "index/vamana/disk_format.h"
#include "index/vamana/disk_index.h"

namespace skeg::index::vamana {

using internal::kSectorBytes;

namespace {

constexpr size_t kWriteBufferBytes = size_t{1} << 20;
constexpr size_t kRowChunkBytes = size_t{4} << 20;
constexpr size_t kProgressEvery = 4096;

uint64_t RoundUpToSector(uint64_t n) {
  return (n + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
}

// Buffered sequential writer of one section at a fixed file offset, with the section's CRC.
class SectionWriter {
 public:
  SectionWriter(platform::File* file, uint64_t offset) : file_(file), pos_(offset) {
    buf_.reserve(kWriteBufferBytes + kSectorBytes);
  }

  Status Append(const char* data, size_t n, bool in_crc = true) {
    if (in_crc) crc_ = crc32c::Extend(crc_, data, n);
    written_ += n;
    while (n > 0) {
      const size_t take = std::min(n, kWriteBufferBytes - buf_.size());
      buf_.append(data, take);
      data += take;
      n -= take;
      if (buf_.size() == kWriteBufferBytes) SKEG_RETURN_IF_ERROR(Flush());
    }
    return Status::Ok();
  }
  Status AppendZeros(size_t n, bool in_crc = true) {
    static const char kZeros[kSectorBytes] = {};
    while (n > 0) {
      const size_t take = std::min(n, sizeof(kZeros));
      SKEG_RETURN_IF_ERROR(Append(kZeros, take, in_crc));
      n -= take;
    }
    return Status::Ok();
  }
  // Zero-fills up to the next sector boundary (relative to the section start).
  Status PadToSector(bool in_crc = true) {
    return AppendZeros(static_cast<size_t>(RoundUpToSector(written_) - written_), in_crc);
  }
  Status Flush() {
    if (buf_.empty()) return Status::Ok();
    const std::string_view chunk(buf_);
    SKEG_RETURN_IF_ERROR(file_->WriteAt(pos_, {&chunk, 1}));
    pos_ += buf_.size();
    buf_.clear();
    return Status::Ok();
  }
  uint64_t written() const { return written_; }
  uint32_t masked_crc() const { return crc32c::Mask(crc_); }

 private:
  platform::File* file_;
  uint64_t pos_;
  uint64_t written_ = 0;
  uint32_t crc_ = 0;
  std::string buf_;
};

Status ValidateInputs(const RowSource& rows, const Graph& graph, const DiskWriteOptions& o) {
  const size_t n = rows.size();
  const size_t dim = rows.dim();
  if (o.nav == nullptr)
    return Status::InvalidArgument("vamana write: navigation quantizer missing");
  if (!o.nav->is_trained()) {
    return Status::InvalidArgument("vamana write: navigation quantizer is not trained");
  }
  if (dim == 0 || dim > kMaxQuantDim) {
    return Status::InvalidArgument("vamana write: dimension " + std::to_string(dim) +
                                   " out of range");
  }
  if (o.nav->dim() != dim || o.nav->metric() != o.metric) {
    return Status::InvalidArgument(
        "vamana write: navigation quantizer dim/metric (" + std::to_string(o.nav->dim()) + ", " +
        std::string(MetricName(o.nav->metric())) + ") differ from the index (" +
        std::to_string(dim) + ", " + std::string(MetricName(o.metric)) + ")");
  }
  if (graph.size() != n) {
    return Status::InvalidArgument("vamana write: graph has " + std::to_string(graph.size()) +
                                   " nodes, rows " + std::to_string(n));
  }
  if (n >= kNoNode) return Status::InvalidArgument("vamana write: too many nodes");
  if (graph.degree == 0 || graph.degree > kMaxDiskDegree) {
    return Status::InvalidArgument("vamana write: degree " + std::to_string(graph.degree) +
                                   " out of range [1, " + std::to_string(kMaxDiskDegree) + "]");
  }
  if (graph.neighbors.size() != n * graph.degree) {
    return Status::InvalidArgument("vamana write: graph neighbour array has the wrong size");
  }
  if (n > 0 && graph.medoid >= n) {
    return Status::InvalidArgument("vamana write: medoid out of range");
  }
  for (size_t i = 0; i < n; ++i) {
    if (graph.counts[i] > graph.degree) {
      return Status::InvalidArgument("vamana write: node " + std::to_string(i) +
                                     " has more neighbours than the degree");
    }
    for (uint32_t v : graph.Neighbors(i)) {
      if (v >= n) {
        return Status::InvalidArgument("vamana write: node " + std::to_string(i) +
                                       " has an out-of-range neighbour");
      }
    }
  }
  const uint64_t record = internal::RecordBytes(dim, graph.degree, o.nav->code_size());
  if (record == 0 || record > kMaxDiskRecordBytes) {
    return Status::InvalidArgument("vamana write: node record of " + std::to_string(record) +
                                   " bytes exceeds the limit");
  }
  return Status::Ok();
}

void Progress(const DiskWriteOptions& o, std::string_view phase, uint64_t done, uint64_t total) {
  if (o.progress) o.progress(phase, done, total);
}

// Pass 1: every row's navigation code, in node order (n * code_size bytes).
Status EncodeAll(const RowSource& rows, const Quantizer& nav, const DiskWriteOptions& o,
                 std::vector<uint8_t>* codes) {
  const size_t n = rows.size();
  const size_t dim = rows.dim();
  const size_t cs = nav.code_size();
  codes->assign(n * cs, 0);
  const size_t chunk = std::max<size_t>(1, kRowChunkBytes / (dim * sizeof(float)));
  std::vector<float> buf(std::min(chunk, n) * dim);
  uint64_t reported = 0;
  for (size_t b = 0; b < n; b += chunk) {
    const size_t cnt = std::min(chunk, n - b);
    SKEG_RETURN_IF_ERROR(rows.ReadRows(b, cnt, buf.data()));
    for (size_t i = 0; i < cnt; ++i) nav.Encode(buf.data() + i * dim, codes->data() + (b + i) * cs);
    if (b + cnt - reported >= kProgressEvery || b + cnt == n) {
      reported = b + cnt;
      Progress(o, "encode", reported, n);
    }
  }
  return Status::Ok();
}

// Writes the id map's pages (leaves, then each inner level) for sorted (id, node) pairs.
Status WriteIdMap(const std::vector<std::pair<uint64_t, uint32_t>>& ids,
                  const internal::IdMapGeometry& g, SectionWriter* w) {
  std::vector<char> page(kSectorBytes);
  auto finish = [&](uint32_t level, uint64_t index, size_t count) {
    char* t = page.data() + internal::kPageTrailerOffset;
    EncodeFixed32(t, level);
    EncodeFixed32(t + 4, static_cast<uint32_t>(index));
    EncodeFixed32(t + 8, static_cast<uint32_t>(count));
    EncodeFixed32(t + 12, internal::PageCrc(page.data()));
    return w->Append(page.data(), page.size());
  };
  // Entries under one page of each level: 340, 340 * 510, ... (saturating; only the levels
  // that exist are used, and they stay far below 2^64).
  uint64_t span = internal::kLeafEntries;
  for (uint32_t level = 0; level < g.levels; ++level) {
    for (uint64_t p = 0; p < g.level_pages[level]; ++p) {
      std::fill(page.begin(), page.end(), 0);
      size_t count = 0;
      if (level == 0) {
        const size_t begin = static_cast<size_t>(p) * internal::kLeafEntries;
        const size_t end = std::min(ids.size(), begin + internal::kLeafEntries);
        for (size_t i = begin; i < end; ++i, ++count) {
          char* e = page.data() + count * internal::kLeafEntryBytes;
          EncodeFixed64(e, ids[i].first);
          EncodeFixed32(e + 8, ids[i].second);
        }
      } else {
        const uint64_t child_span = span / internal::kInnerKeys;
        const uint64_t first_child = p * internal::kInnerKeys;
        const uint64_t end = std::min(g.level_pages[level - 1], first_child + internal::kInnerKeys);
        for (uint64_t c = first_child; c < end; ++c, ++count) {
          EncodeFixed64(page.data() + count * 8, ids[static_cast<size_t>(c * child_span)].first);
        }
      }
      SKEG_RETURN_IF_ERROR(finish(level, p, count));
    }
    span *= internal::kInnerKeys;
  }
  return Status::Ok();
}

// Everything after the file was created; the caller removes the file on error.
Status WriteFile(platform::File* file, const RowSource& rows, const Graph& graph,
                 const NodeMetaSource& meta_source, const DiskWriteOptions& o) {
  const Quantizer& nav = *o.nav;
  const size_t n = rows.size();
  const size_t dim = rows.dim();
  const uint32_t degree = graph.degree;
  const size_t cs = nav.code_size();

  internal::DiskHeader h;
  h.metric = o.metric;
  h.nav_kind = nav.kind();
  h.dim = static_cast<uint32_t>(dim);
  h.degree = degree;
  h.medoid = n > 0 ? graph.medoid : kNoNode;
  h.n = n;
  h.record_bytes = static_cast<uint32_t>(internal::RecordBytes(dim, degree, cs));
  h.code_bytes = static_cast<uint32_t>(cs);
  const internal::NodePacking packing = internal::PackingFor(h.record_bytes);
  h.nodes_per_sector = packing.nodes_per_sector;
  h.sectors_per_node = packing.sectors_per_node;
  const internal::IdMapGeometry geo = internal::IdMapGeometryFor(n);
  h.idmap_levels = geo.levels;
  for (uint32_t l = 0; l < geo.levels; ++l) {
    h.idmap_level_start[l] = static_cast<uint32_t>(geo.level_start[l]);
  }

  std::vector<uint8_t> codes;
  SKEG_RETURN_IF_ERROR(EncodeAll(rows, nav, o, &codes));

  // Navigation section: the quantizer, then the medoid's code (the search's first list entry).
  std::string nav_bytes = nav.Serialize();
  h.quantizer_bytes = static_cast<uint32_t>(nav_bytes.size());
  if (n > 0) nav_bytes.append(reinterpret_cast<const char*>(codes.data() + h.medoid * cs), cs);
  auto& sec = h.sections;
  sec[internal::kNavSection] = {kSectorBytes, nav_bytes.size(),
                                crc32c::Mask(crc32c::Value(nav_bytes))};
  sec[internal::kNodeSection].offset = RoundUpToSector(kSectorBytes + nav_bytes.size());
  sec[internal::kNodeSection].length = packing.Sectors(n) * kSectorBytes;
  sec[internal::kIdMapSection].offset =
      sec[internal::kNodeSection].offset + sec[internal::kNodeSection].length;
  sec[internal::kIdMapSection].length = geo.total_pages * kSectorBytes;
  sec[internal::kPayloadSection].offset =
      sec[internal::kIdMapSection].offset + sec[internal::kIdMapSection].length;
  {
    SectionWriter w(file, kSectorBytes);
    SKEG_RETURN_IF_ERROR(w.Append(nav_bytes.data(), nav_bytes.size()));
    SKEG_RETURN_IF_ERROR(w.PadToSector());
    SKEG_RETURN_IF_ERROR(w.Flush());
  }

  // Node records and payloads, streamed in node order.
  SectionWriter nodes(file, sec[internal::kNodeSection].offset);
  SectionWriter payloads(file, sec[internal::kPayloadSection].offset);
  const internal::RecordLayout lay = internal::RecordLayoutFor(dim, degree, h.record_bytes);
  std::vector<char> rec(h.record_bytes);
  std::vector<std::pair<uint64_t, uint32_t>> ids(n);
  const size_t chunk = std::max<size_t>(1, kRowChunkBytes / (dim * sizeof(float)));
  std::vector<float> rowbuf(std::min(chunk, n) * dim);
  NodeMeta m;
  std::string payload;
  uint64_t reported = 0;
  for (size_t b = 0; b < n; b += chunk) {
    const size_t cnt = std::min(chunk, n - b);
    SKEG_RETURN_IF_ERROR(rows.ReadRows(b, cnt, rowbuf.data()));
    for (size_t i = b; i < b + cnt; ++i) {
      m = NodeMeta();
      payload.clear();
      SKEG_RETURN_IF_ERROR(meta_source.Meta(i, &m, &payload));
      if (payload.size() > UINT32_MAX) {
        return Status::InvalidArgument("vamana write: payload of node " + std::to_string(i) +
                                       " exceeds 4 GiB");
      }
      ids[i] = {m.id, static_cast<uint32_t>(i)};
      std::fill(rec.begin(), rec.end(), 0);
      char* r = rec.data();
      EncodeFixed64(r, m.id);
      EncodeFixed64(r + 8, m.has_attr ? m.attr : 0);
      EncodeFixed64(r + 16, payload.empty() ? 0 : payloads.written());
      EncodeFixed32(r + 24, static_cast<uint32_t>(payload.size()));
      EncodeFixed32(r + 28, payload.empty() ? 0 : crc32c::Mask(crc32c::Value(payload)));
      EncodeFixed32(r + 32, m.has_attr ? internal::kRecordFlagAttr : 0);
      const std::span<const uint32_t> nbrs = graph.Neighbors(i);
      EncodeFixed32(r + 36, static_cast<uint32_t>(nbrs.size()));
      std::memcpy(r + lay.vector, rowbuf.data() + (i - b) * dim, dim * sizeof(float));
      for (uint32_t j = 0; j < degree; ++j) {
        const uint32_t v = j < nbrs.size() ? nbrs[j] : kNoNode;
        EncodeFixed32(r + lay.neighbors + 4 * j, v);
        if (v != kNoNode) std::memcpy(r + lay.codes + j * cs, codes.data() + v * cs, cs);
      }
      EncodeFixed32(r + lay.crc, internal::RecordCrc(static_cast<uint32_t>(i), r, h.record_bytes));
      SKEG_RETURN_IF_ERROR(nodes.Append(r, rec.size()));
      // Packed: pad after each full sector; spanning: pad every record to whole sectors.
      if (packing.nodes_per_sector == 1 || (i + 1) % packing.nodes_per_sector == 0) {
        SKEG_RETURN_IF_ERROR(nodes.PadToSector());
      }
      if (!payload.empty()) SKEG_RETURN_IF_ERROR(payloads.Append(payload.data(), payload.size()));
    }
    if (b + cnt - reported >= kProgressEvery || b + cnt == n) {
      reported = b + cnt;
      Progress(o, "write", reported, n);
    }
  }
  SKEG_RETURN_IF_ERROR(nodes.PadToSector());
  SKEG_RETURN_IF_ERROR(nodes.Flush());
  sec[internal::kNodeSection].crc = nodes.masked_crc();
  if (nodes.written() != sec[internal::kNodeSection].length) {
    return Status::Internal("vamana write: node section length mismatch");
  }
  codes = std::vector<uint8_t>();  // frees; `codes = {}` would keep the capacity

  // Payload section: exact bytes under the CRC, zero-padded to a sector (outside the CRC).
  sec[internal::kPayloadSection].length = payloads.written();
  sec[internal::kPayloadSection].crc = payloads.masked_crc();
  SKEG_RETURN_IF_ERROR(payloads.PadToSector(/*in_crc=*/false));
  SKEG_RETURN_IF_ERROR(payloads.Flush());
  h.file_bytes = sec[internal::kPayloadSection].offset +
                 RoundUpToSector(sec[internal::kPayloadSection].length);

  // Id map.
  std::sort(ids.begin(), ids.end());
  for (size_t i = 1; i < ids.size(); ++i) {
    if (ids[i].first == ids[i - 1].first) {
      return Status::InvalidArgument(
          "vamana write: duplicate external id " + std::to_string(ids[i].first) + " (nodes " +
          std::to_string(ids[i - 1].second) + " and " + std::to_string(ids[i].second) + ")");
    }
  }
  {
    SectionWriter w(file, sec[internal::kIdMapSection].offset);
    SKEG_RETURN_IF_ERROR(WriteIdMap(ids, geo, &w));
    SKEG_RETURN_IF_ERROR(w.Flush());
    sec[internal::kIdMapSection].crc = w.masked_crc();
  }

  // Header last, so a file without a valid header was never completed.
  std::vector<char> sector(kSectorBytes, 0);
  internal::EncodeHeader(h, sector.data());
  const std::string_view hv(sector.data(), sector.size());
  SKEG_RETURN_IF_ERROR(file->WriteAt(0, {&hv, 1}));
  SKEG_ASSIGN_OR_RETURN(const uint64_t size, file->Size());
  if (size != h.file_bytes) return Status::Internal("vamana write: file size mismatch");
  return file->Sync(platform::SyncMode::kFull);
}

}  // namespace

Status WriteDiskIndex(platform::Env* env, const std::string& path, const RowSource& rows,
                      const Graph& graph, const NodeMetaSource& meta,
                      const DiskWriteOptions& options) {
  SKEG_RETURN_IF_ERROR(ValidateInputs(rows, graph, options));
  platform::OpenOptions oo;
  oo.read_only = false;
  oo.create = true;
  oo.exclusive = true;
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<platform::File> file, env->OpenFile(path, oo));
  Status s = WriteFile(file.get(), rows, graph, meta, options);
  file.reset();
  if (!s.ok()) {
    env->RemoveFile(path).IgnoreError();
    return s.WithContext(path);
  }
  return Status::Ok();
}

}  // namespace skeg::index::vamana
