// DiskIndex: opening, record and page I/O through the page cache, the beam search, and the
// sequential readers for a merge (LoadGraph, Rows, Verify). Layout: disk_format.h.
#include "index/vamana/disk_index.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "common/coding.h"
#include "common/crc32c.h"
#include "index/vamana/disk_format.h"
#include "platform/aligned_buffer.h"
#include "platform/batch_reader.h"

namespace skeg::index::vamana {

using internal::kSectorBytes;

namespace {

// Sequential readers (LoadGraph, Rows, Verify) read at most this much per request.
constexpr size_t kScanBytes = size_t{1} << 20;

// The calling thread's BatchReader for one io_uring preference, shared by every index (a reader
// is not tied to a file). Lives until the thread exits.
platform::BatchReader* ThreadReader(bool prefer_io_uring) {
  thread_local std::unique_ptr<platform::BatchReader> readers[2];
  std::unique_ptr<platform::BatchReader>& r = readers[prefer_io_uring ? 1 : 0];
  if (r == nullptr) {
    platform::BatchReaderOptions o;
    o.prefer_io_uring = prefer_io_uring;
    o.queue_depth = kMaxDiskBeamWidth;
    Result<std::unique_ptr<platform::BatchReader>> made = platform::NewBatchReader(o);
    r = made ? std::move(made).value()
             : platform::NewPreadBatchReader(std::string(made.error().message()));
  }
  return r.get();
}

// Set of node numbers visited by one search: open addressing with an epoch per slot, so a new
// search clears it by bumping the epoch instead of touching the table.
class VisitedSet {
 public:
  void Reset(size_t expected) {
    size_t want = 64;
    while (want < 2 * expected) want <<= 1;
    if (slots_.size() < want) {
      slots_.assign(want, Slot{});
      epoch_ = 0;
    }
    if (++epoch_ == 0) {
      for (Slot& s : slots_) s.epoch = 0;
      epoch_ = 1;
    }
    mask_ = slots_.size() - 1;
    count_ = 0;
  }
  // Adds `node`; false when it was already there.
  bool Insert(uint32_t node) {
    if (2 * (count_ + 1) > slots_.size()) Grow();
    for (size_t h = Hash(node) & mask_;; h = (h + 1) & mask_) {
      Slot& s = slots_[h];
      if (s.epoch != epoch_) {
        s = {node, epoch_};
        ++count_;
        return true;
      }
      if (s.node == node) return false;
    }
  }
  size_t MemoryUsage() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint32_t node = 0;
    uint32_t epoch = 0;
  };
  static size_t Hash(uint32_t node) {
    return static_cast<size_t>((uint64_t{node} * 0x9e3779b97f4a7c15ull) >> 29);
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    const uint32_t old_epoch = epoch_;
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    epoch_ = 1;
    count_ = 0;
    for (const Slot& s : old) {
      if (s.epoch == old_epoch) Insert(s.node);
    }
  }

  std::vector<Slot> slots_;
  uint32_t epoch_ = 0;
  size_t mask_ = 0;
  size_t count_ = 0;
};

struct Candidate {
  float dist;
  uint32_t node;
  bool expanded;
};

// Strict order on (distance, node): deterministic ties.
bool Nearer(float da, uint32_t na, float db, uint32_t nb) {
  return da < db || (da == db && na < nb);
}

struct Best {
  float dist;
  uint32_t node;
  uint64_t id;
};
bool BestLess(const Best& a, const Best& b) { return Nearer(a.dist, a.node, b.dist, b.node); }

void DecodeMeta(const char* rec, NodeMeta* meta) {
  meta->id = DecodeFixed64(rec);
  meta->has_attr = (DecodeFixed32(rec + 32) & internal::kRecordFlagAttr) != 0;
  meta->attr = DecodeFixed64(rec + 8);
  meta->payload_bytes = DecodeFixed32(rec + 24);
}

}  // namespace

// Per-call scratch, pooled by the index; sized by the largest L, W and k seen.
struct DiskIndex::Scratch {
  QueryContext ctx;
  std::vector<float> qn;  // the query, normalised for cosine
  std::vector<float> vec;
  std::vector<float> nd;  // code distances of one record's neighbours
  std::vector<Candidate> list;
  VisitedSet visited;
  std::vector<Best> best;
  platform::AlignedBuffer io;  // one slot of sectors_per_node sectors per beam entry
  std::vector<uint32_t> beam;
  std::vector<const char*> rec;
  std::vector<platform::ReadRequest> reqs;

  void Prepare(const DiskIndex& idx, size_t slots) {
    if (ctx.owner != idx.nav_.get()) ctx = idx.nav_->NewQueryContext();
    qn.resize(idx.dim_);
    vec.resize(idx.dim_);
    nd.resize(idx.degree_);
    const size_t bytes = slots * idx.sectors_per_node_ * kSectorBytes;
    if (io.size() < bytes) io.Resize(bytes);
    if (beam.size() < slots) {
      beam.resize(slots);
      rec.resize(slots);
      reqs.reserve(slots);
    }
  }
  size_t MemoryUsage() const {
    return sizeof(*this) + ctx.MemoryUsage() +
           (qn.capacity() + vec.capacity() + nd.capacity()) * sizeof(float) +
           list.capacity() * sizeof(Candidate) + visited.MemoryUsage() +
           best.capacity() * sizeof(Best) + io.capacity() + beam.capacity() * sizeof(uint32_t) +
           rec.capacity() * sizeof(char*) + reqs.capacity() * sizeof(platform::ReadRequest);
  }
};

// Returns its scratch to the pool on scope exit.
class DiskIndex::ScratchLease {
 public:
  explicit ScratchLease(const DiskIndex* idx) : idx_(idx), s_(idx->AcquireScratch()) {}
  ~ScratchLease() { idx_->ReleaseScratch(std::move(s_)); }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  Scratch* get() const { return s_.get(); }

 private:
  const DiskIndex* idx_;
  std::unique_ptr<Scratch> s_;
};

std::unique_ptr<DiskIndex::Scratch> DiskIndex::AcquireScratch() const {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      std::unique_ptr<Scratch> s = std::move(pool_.back());
      pool_.pop_back();
      return s;
    }
  }
  return std::make_unique<Scratch>();
}

void DiskIndex::ReleaseScratch(std::unique_ptr<Scratch> s) const {
  std::lock_guard lock(pool_mu_);
  pool_.push_back(std::move(s));
}

DiskIndex::DiskIndex() = default;

DiskIndex::~DiskIndex() {
  if (cache_ != nullptr) cache_->EraseFile(file_id_);
}

// ---- Open ---------------------------------------------------------------------------------------

Result<std::unique_ptr<DiskIndex>> DiskIndex::Open(platform::Env* env, const std::string& path,
                                                   const DiskIndexOptions& options) {
  const auto bad = [&path](const std::string& what) {
    return Status::Corruption(path + ": vamana index: " + what);
  };
  platform::OpenOptions oo;
  oo.read_only = true;
  oo.direct = options.direct_io;
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<platform::File> file, env->OpenFile(path, oo));
  SKEG_ASSIGN_OR_RETURN(const uint64_t size, file->Size());
  if (size < kSectorBytes) return bad("truncated (" + std::to_string(size) + " bytes)");
  platform::AlignedBuffer buf(kSectorBytes);
  SKEG_ASSIGN_OR_RETURN(const size_t got, file->ReadAt(0, kSectorBytes, buf.data()));
  if (got != kSectorBytes) return bad("truncated header");
  internal::DiskHeader h;
  SKEG_RETURN_IF_ERROR(internal::DecodeHeader(buf.data(), path, &h));

  SKEG_RETURN_IF_ERROR(internal::CheckLayout(h, size, path));
  const internal::Section* sec = h.sections;
  const internal::IdMapGeometry geo = internal::IdMapGeometryFor(h.n);
  const auto round_up = [](uint64_t v) {
    return (v + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
  };

  // Navigation section: the quantizer and the medoid's code.
  const internal::Section& nav_sec = sec[internal::kNavSection];
  buf.Resize(round_up(nav_sec.length));
  SKEG_ASSIGN_OR_RETURN(const size_t nav_got, file->ReadAt(nav_sec.offset, buf.size(), buf.data()));
  if (nav_got != buf.size()) return bad("truncated navigation section");
  if (crc32c::Unmask(nav_sec.crc) != crc32c::Value(buf.data(), nav_sec.length)) {
    return bad("navigation section CRC mismatch");
  }
  Result<std::unique_ptr<Quantizer>> nav =
      DeserializeQuantizer(std::string_view(buf.data(), h.quantizer_bytes));
  if (!nav) return bad("navigation quantizer: " + std::string(nav.error().message()));
  if ((*nav)->kind() != h.nav_kind || (*nav)->dim() != h.dim || (*nav)->metric() != h.metric ||
      (*nav)->code_size() != h.code_bytes || !(*nav)->is_trained()) {
    return bad("navigation quantizer does not match the header");
  }

  std::unique_ptr<DiskIndex> idx(new DiskIndex());
  idx->path_ = path;
  idx->cache_ = options.cache;
  idx->cache_owner_ = options.cache_owner;
  idx->file_id_ = storage::PageCache::NewFileId();
  idx->prefer_io_uring_ = options.prefer_io_uring;
  idx->metric_ = h.metric;
  idx->dim_ = h.dim;
  idx->degree_ = h.degree;
  idx->medoid_ = h.medoid;
  idx->n_ = h.n;
  idx->record_bytes_ = h.record_bytes;
  idx->code_bytes_ = h.code_bytes;
  idx->nodes_per_sector_ = h.nodes_per_sector;
  idx->sectors_per_node_ = h.sectors_per_node;
  idx->file_bytes_ = h.file_bytes;
  idx->nodes_page0_ = sec[internal::kNodeSection].offset / kSectorBytes;
  idx->idmap_page0_ = sec[internal::kIdMapSection].offset / kSectorBytes;
  idx->idmap_levels_ = geo.levels;
  idx->idmap_level_start_.assign(geo.level_start, geo.level_start + geo.levels);
  idx->idmap_level_pages_.assign(geo.level_pages, geo.level_pages + geo.levels);
  idx->payload_offset_ = sec[internal::kPayloadSection].offset;
  idx->payload_bytes_ = sec[internal::kPayloadSection].length;
  for (int i = 0; i < internal::kSectionCount; ++i) {
    idx->sections_.push_back({sec[i].offset, sec[i].length, sec[i].crc});
  }
  const internal::RecordLayout lay = internal::RecordLayoutFor(h.dim, h.degree, h.record_bytes);
  idx->vector_at_ = lay.vector;
  idx->neighbors_at_ = lay.neighbors;
  idx->codes_at_ = lay.codes;
  idx->nav_ = std::move(nav).value();
  idx->rekey_ = idx->nav_->kind() != QuantKind::kBinary;
  if (h.n > 0) {
    const auto* code = reinterpret_cast<const uint8_t*>(buf.data() + h.quantizer_bytes);
    idx->medoid_code_.assign(code, code + h.code_bytes);
  }
  idx->file_ = std::move(file);
  return idx;
}

// ---- record and page I/O ------------------------------------------------------------------------

uint64_t DiskIndex::NodePage(uint32_t node) const {
  return nodes_page0_ +
         (nodes_per_sector_ > 1 ? node / nodes_per_sector_ : uint64_t{node} * sectors_per_node_);
}

size_t DiskIndex::NodeOffsetInPage(uint32_t node) const {
  return nodes_per_sector_ > 1 ? size_t{node % nodes_per_sector_} * record_bytes_ : 0;
}

Status DiskIndex::CorruptNode(uint32_t node, std::string_view what) const {
  return Status::Corruption(path_ + ": vamana node " + std::to_string(node) + ": " +
                            std::string(what));
}

Status DiskIndex::CheckRecord(uint32_t node, const char* rec) const {
  if (DecodeFixed32(rec + record_bytes_ - 4) != internal::RecordCrc(node, rec, record_bytes_)) {
    return CorruptNode(node, "record CRC mismatch");
  }
  if (DecodeFixed32(rec + 36) > degree_) return CorruptNode(node, "degree exceeds R");
  return Status::Ok();
}

namespace {

// Copies one 4 KiB page into the cache (the bytes were read with O_DIRECT into the query's
// aligned scratch; the cache's buffers are 4 KiB-aligned too, but a read fills several pages
// at once and only some of them are inserted).
void InsertPage(storage::PageCache* cache, uint32_t owner, uint64_t file_id, uint64_t page_no,
                const char* src) {
  static_assert(kSectorBytes == storage::PageCache::kPageSize);
  auto page = storage::PageCache::NewPage();
  std::memcpy(page->data.get(), src, kSectorBytes);
  page->valid = static_cast<uint32_t>(kSectorBytes);
  cache->Insert(file_id, page_no, std::move(page), owner);
}

}  // namespace

Status DiskIndex::ReadPage(uint64_t page_no, char* dst) const {
  if (cache_ != nullptr) {
    if (cache_->ReadIfCached(file_id_, page_no, 0, kSectorBytes, dst)) {
      cache_hits_.fetch_add(1, std::memory_order_relaxed);
      return Status::Ok();
    }
    cache_misses_.fetch_add(1, std::memory_order_relaxed);
  }
  SKEG_ASSIGN_OR_RETURN(const size_t got, file_->ReadAt(page_no * kSectorBytes, kSectorBytes, dst));
  reads_.fetch_add(1, std::memory_order_relaxed);
  bytes_read_.fetch_add(got, std::memory_order_relaxed);
  if (got != kSectorBytes) {
    return Status::Corruption(path_ + ": vamana index: truncated at page " +
                              std::to_string(page_no));
  }
  if (cache_ != nullptr) InsertPage(cache_, cache_owner_, file_id_, page_no, dst);
  return Status::Ok();
}

// Reads the records of s->beam[0, count) into s->rec[0, count) (pointers into s->io): cache
// hits are copied out, the misses are read with one ReadBatch and their pages inserted.
Status DiskIndex::ReadRecords(Scratch* s, size_t count) const {
  const size_t slot_bytes = size_t{sectors_per_node_} * kSectorBytes;
  s->reqs.clear();
  uint64_t hits = 0, misses = 0;
  for (size_t j = 0; j < count; ++j) {
    const uint32_t node = s->beam[j];
    const uint64_t page = NodePage(node);
    const size_t in_page = NodeOffsetInPage(node);
    char* slot = s->io.data() + j * slot_bytes;
    // A record is a hit only when all its pages are cached (then copied to the slot's start);
    // otherwise all its sectors are read again, so the counters count whole records' pages.
    bool hit = cache_ != nullptr;
    for (uint32_t p = 0; hit && p < sectors_per_node_; ++p) {
      const size_t at = size_t{p} * kSectorBytes;
      const size_t len = std::min<size_t>(kSectorBytes - in_page, record_bytes_ - at);
      hit = cache_->ReadIfCached(file_id_, page + p, in_page, len, slot + at);
    }
    if (hit) {
      hits += sectors_per_node_;
      s->rec[j] = slot;
    } else {
      if (cache_ != nullptr) misses += sectors_per_node_;
      s->reqs.emplace_back(file_.get(), page * kSectorBytes, slot_bytes, slot);
      s->rec[j] = slot + in_page;
    }
  }
  cache_hits_.fetch_add(hits, std::memory_order_relaxed);
  cache_misses_.fetch_add(misses, std::memory_order_relaxed);
  if (s->reqs.empty()) return Status::Ok();
  const Status st = ThreadReader(prefer_io_uring_)->ReadBatch(s->reqs);
  uint64_t bytes = 0;
  for (const platform::ReadRequest& r : s->reqs) bytes += r.bytes_read;
  reads_.fetch_add(s->reqs.size(), std::memory_order_relaxed);
  bytes_read_.fetch_add(bytes, std::memory_order_relaxed);
  SKEG_RETURN_IF_ERROR(st);
  for (const platform::ReadRequest& r : s->reqs) {
    if (r.bytes_read != r.length) {
      return Status::Corruption(path_ + ": vamana index: node records truncated at offset " +
                                std::to_string(r.offset));
    }
    if (cache_ != nullptr) {
      for (uint32_t p = 0; p < sectors_per_node_; ++p) {
        InsertPage(cache_, cache_owner_, file_id_, r.offset / kSectorBytes + p,
                   r.dst + size_t{p} * kSectorBytes);
      }
    }
  }
  return Status::Ok();
}

Status DiskIndex::ReadPayload(uint64_t offset, uint32_t length, uint32_t crc, uint32_t node,
                              std::string* out, Scratch* s) const {
  out->clear();
  if (length == 0) return Status::Ok();
  if (offset > payload_bytes_ || length > payload_bytes_ - offset) {
    return CorruptNode(node, "payload outside the payload section");
  }
  out->resize(length);
  const uint64_t begin = payload_offset_ + offset;
  char* page = s->io.data();
  for (uint64_t pos = begin; pos < begin + length;) {
    SKEG_RETURN_IF_ERROR(ReadPage(pos / kSectorBytes, page));
    const size_t in = static_cast<size_t>(pos % kSectorBytes);
    const size_t take =
        static_cast<size_t>(std::min<uint64_t>(kSectorBytes - in, begin + length - pos));
    std::memcpy(out->data() + (pos - begin), page + in, take);
    pos += take;
  }
  if (crc32c::Unmask(crc) != crc32c::Value(*out)) return CorruptNode(node, "payload CRC mismatch");
  return Status::Ok();
}

// ---- point reads --------------------------------------------------------------------------------

Result<uint32_t> DiskIndex::FindNode(uint64_t id) const {
  if (n_ == 0) return kNoNode;
  ScratchLease lease(this);
  Scratch* s = lease.get();
  s->Prepare(*this, 1);
  char* page = s->io.data();
  uint64_t index = 0;
  for (uint32_t level = idmap_levels_; level-- > 0;) {
    const std::string where =
        "id map page " + std::to_string(index) + " of level " + std::to_string(level);
    SKEG_RETURN_IF_ERROR(ReadPage(idmap_page0_ + idmap_level_start_[level] + index, page));
    const char* t = page + internal::kPageTrailerOffset;
    const uint32_t count = DecodeFixed32(t + 8);
    const size_t cap = level == 0 ? internal::kLeafEntries : internal::kInnerKeys;
    if (DecodeFixed32(t + 12) != internal::PageCrc(page) || DecodeFixed32(t) != level ||
        DecodeFixed32(t + 4) != index || count == 0 || count > cap) {
      return Status::Corruption(path_ + ": vamana " + where + ": bad page");
    }
    if (level > 0) {
      // The last key <= id names the child whose range may hold it.
      uint32_t lo = 0, hi = count;
      while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (DecodeFixed64(page + size_t{mid} * 8) <= id) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      if (lo == 0) return kNoNode;
      index = index * internal::kInnerKeys + (lo - 1);
      if (index >= idmap_level_pages_[level - 1]) {
        return Status::Corruption(path_ + ": vamana " + where + ": child out of range");
      }
      continue;
    }
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (DecodeFixed64(page + size_t{mid} * internal::kLeafEntryBytes) < id) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    const char* e = page + size_t{lo} * internal::kLeafEntryBytes;
    if (lo == count || DecodeFixed64(e) != id) return kNoNode;
    const uint32_t node = DecodeFixed32(e + 8);
    if (node >= n_) return Status::Corruption(path_ + ": vamana " + where + ": node out of range");
    return node;
  }
  return kNoNode;
}

Status DiskIndex::ReadVector(uint32_t node, float* out) const {
  if (node >= n_)
    return Status::InvalidArgument("vamana: node " + std::to_string(node) + " out of range");
  ScratchLease lease(this);
  Scratch* s = lease.get();
  s->Prepare(*this, 1);
  s->beam[0] = node;
  SKEG_RETURN_IF_ERROR(ReadRecords(s, 1));
  SKEG_RETURN_IF_ERROR(CheckRecord(node, s->rec[0]));
  std::memcpy(out, s->rec[0] + vector_at_, dim_ * sizeof(float));
  return Status::Ok();
}

Status DiskIndex::ReadMeta(uint32_t node, NodeMeta* meta, std::string* payload) const {
  if (node >= n_)
    return Status::InvalidArgument("vamana: node " + std::to_string(node) + " out of range");
  ScratchLease lease(this);
  Scratch* s = lease.get();
  s->Prepare(*this, 1);
  s->beam[0] = node;
  SKEG_RETURN_IF_ERROR(ReadRecords(s, 1));
  const char* rec = s->rec[0];
  SKEG_RETURN_IF_ERROR(CheckRecord(node, rec));
  DecodeMeta(rec, meta);
  if (payload == nullptr) return Status::Ok();
  const uint64_t offset = DecodeFixed64(rec + 16);
  const uint32_t crc = DecodeFixed32(rec + 28);
  return ReadPayload(offset, meta->payload_bytes, crc, node, payload, s);
}

// ---- search -------------------------------------------------------------------------------------

namespace {

// Inserts c into the sorted list of at most `cap` entries (dropped when it would be last of a
// full list). Keeps *cursor (everything before it is expanded) valid.
void InsertCandidate(std::vector<Candidate>* list, size_t cap, const Candidate& c, size_t* cursor) {
  if (list->size() == cap) {
    const Candidate& last = list->back();
    if (!Nearer(c.dist, c.node, last.dist, last.node)) return;
    list->pop_back();
  }
  const auto it =
      std::upper_bound(list->begin(), list->end(), c, [](const Candidate& a, const Candidate& b) {
        return Nearer(a.dist, a.node, b.dist, b.node);
      });
  const size_t pos = static_cast<size_t>(it - list->begin());
  list->insert(it, c);
  *cursor = std::min(*cursor, pos);
}

// Moves expanded `node` to the place of its exact distance `d` (list order and cursor kept).
void RekeyExpanded(std::vector<Candidate>* list, uint32_t node, float d, size_t* cursor) {
  auto it = std::find_if(list->begin(), list->end(),
                         [node](const Candidate& c) { return c.node == node; });
  if (it == list->end()) return;
  const auto pos = static_cast<size_t>(it - list->begin());
  list->erase(it);
  if (pos < *cursor) --*cursor;
  const Candidate c{d, node, true};
  const auto at =
      std::upper_bound(list->begin(), list->end(), c, [](const Candidate& a, const Candidate& b) {
        return Nearer(a.dist, a.node, b.dist, b.node);
      });
  const auto at_pos = static_cast<size_t>(at - list->begin());
  list->insert(at, c);
  if (at_pos <= *cursor) ++*cursor;
}

// Keeps the k nearest accepted nodes in the max-heap *best. The acceptor runs only for a node
// that would enter the heap, so filters cost nothing for nodes too far to matter.
void OfferResult(std::vector<Best>* best, size_t k, float d, uint32_t node, const char* rec,
                 const NodeAcceptor* accept) {
  if (best->size() == k && !Nearer(d, node, best->front().dist, best->front().node)) return;
  NodeMeta meta;
  DecodeMeta(rec, &meta);
  if (accept != nullptr && !accept->Accept(node, meta)) return;
  best->push_back({d, node, meta.id});
  std::push_heap(best->begin(), best->end(), BestLess);
  if (best->size() > k) {
    std::pop_heap(best->begin(), best->end(), BestLess);
    best->pop_back();
  }
}

}  // namespace

Status DiskIndex::Search(const float* query, const DiskSearchParams& params,
                         const NodeAcceptor* accept, std::vector<DiskHit>* out) const {
  out->clear();
  if (params.k > kMaxDiskListSize || params.l_search > kMaxDiskListSize) {
    return Status::InvalidArgument("vamana search: k and l_search must be <= " +
                                   std::to_string(kMaxDiskListSize));
  }
  if (params.k == 0 || n_ == 0) return Status::Ok();
  const size_t k = params.k;
  const size_t cap = std::max<size_t>(params.l_search, k);
  const size_t width = std::clamp<uint32_t>(params.beam_width, 1, kMaxDiskBeamWidth);

  ScratchLease lease(this);
  Scratch* s = lease.get();
  s->Prepare(*this, width);
  if (s->list.capacity() < cap + 1) s->list.reserve(cap + 1);
  if (s->best.capacity() < k + 1) s->best.reserve(k + 1);
  s->list.clear();
  s->best.clear();
  // A hint: the set grows (and stays grown) when a search visits more.
  s->visited.Reset(std::min<size_t>(n_, cap * 16));
  nav_->PrepareQuery(query, &s->ctx);
  std::memcpy(s->qn.data(), query, dim_ * sizeof(float));
  if (metric_ == Metric::kCosine) NormalizeF32(s->qn.data(), dim_);

  s->visited.Insert(medoid_);
  s->list.push_back({nav_->Distance(s->ctx, medoid_code_.data()), medoid_, false});
  size_t cursor = 0;
  while (true) {
    // The W nearest unexpanded candidates form this round's beam.
    size_t count = 0;
    for (size_t i = cursor; i < s->list.size() && count < width; ++i) {
      if (s->list[i].expanded) continue;
      s->list[i].expanded = true;
      s->beam[count++] = s->list[i].node;
    }
    if (count == 0) break;
    while (cursor < s->list.size() && s->list[cursor].expanded) ++cursor;
    SKEG_RETURN_IF_ERROR(ReadRecords(s, count));

    for (size_t j = 0; j < count; ++j) {
      const uint32_t node = s->beam[j];
      const char* rec = s->rec[j];
      SKEG_RETURN_IF_ERROR(CheckRecord(node, rec));
      // The record's vector gives the exact distance: a result candidate.
      std::memcpy(s->vec.data(), rec + vector_at_, dim_ * sizeof(float));
      const float d = ExactMetricDistance(metric_, s->qn.data(), s->vec.data(), dim_);
      OfferResult(&s->best, k, d, node, rec, accept);
      // The expanded node's place in the list follows its exact distance from now on, so the
      // list's boundary (which candidates fall off a full list) is decided by exact distances
      // where the search knows them. Codes estimate in the metric's units (cosine: 1 - cos,
      // where ExactMetricDistance gives -cos); binary codes are Hamming counts and keep their key.
      if (rekey_) RekeyExpanded(&s->list, node, metric_ == Metric::kCosine ? 1.0f + d : d, &cursor);
      // The neighbours' codes in the record give their approximate distances (AiSAQ).
      const uint32_t deg = DecodeFixed32(rec + 36);
      const char* nbrs = rec + neighbors_at_;
      nav_->ScanCodes(s->ctx, reinterpret_cast<const uint8_t*>(rec + codes_at_), deg, s->nd.data());
      for (uint32_t i = 0; i < deg; ++i) {
        const uint32_t v = DecodeFixed32(nbrs + size_t{i} * 4);
        if (v >= n_) return CorruptNode(node, "neighbour out of range");
        if (!s->visited.Insert(v)) continue;
        InsertCandidate(&s->list, cap, {s->nd[i], v, false}, &cursor);
      }
    }
  }

  std::sort(s->best.begin(), s->best.end(), BestLess);
  out->reserve(s->best.size());
  for (const Best& b : s->best) out->push_back({b.node, b.id, b.dist});
  return Status::Ok();
}

// ---- sequential readers -------------------------------------------------------------------------

Status DiskIndex::ScanNodes(uint32_t begin, uint32_t end,
                            const std::function<Status(uint32_t, const char*)>& fn) const {
  const uint64_t per_chunk =
      nodes_per_sector_ > 1
          ? kScanBytes / kSectorBytes * nodes_per_sector_
          : std::max<uint64_t>(1, kScanBytes / (uint64_t{sectors_per_node_} * kSectorBytes));
  platform::AlignedBuffer buf;
  for (uint64_t b = begin; b < end;) {
    const auto first = static_cast<uint32_t>(b);
    const auto last = static_cast<uint32_t>(std::min<uint64_t>(end, b + per_chunk) - 1);
    const uint64_t page0 = NodePage(first);
    const uint64_t pages = NodePage(last) + sectors_per_node_ - page0;
    const size_t len = static_cast<size_t>(pages * kSectorBytes);
    if (buf.size() < len) buf.Resize(len);
    SKEG_ASSIGN_OR_RETURN(const size_t got, file_->ReadAt(page0 * kSectorBytes, len, buf.data()));
    reads_.fetch_add(1, std::memory_order_relaxed);
    bytes_read_.fetch_add(got, std::memory_order_relaxed);
    if (got != len) return CorruptNode(first, "node records truncated");
    for (uint32_t node = first; node <= last; ++node) {
      const char* rec =
          buf.data() + (NodePage(node) - page0) * kSectorBytes + NodeOffsetInPage(node);
      SKEG_RETURN_IF_ERROR(CheckRecord(node, rec));
      SKEG_RETURN_IF_ERROR(fn(node, rec));
    }
    b = uint64_t{last} + 1;
  }
  return Status::Ok();
}

Result<Graph> DiskIndex::LoadGraph() const {
  Graph g;
  g.Reset(static_cast<size_t>(n_), degree_);
  g.medoid = medoid_;
  std::vector<uint32_t> nbrs(degree_);
  SKEG_RETURN_IF_ERROR(ScanNodes(0, static_cast<uint32_t>(n_), [&](uint32_t node, const char* rec) {
    const uint32_t deg = DecodeFixed32(rec + 36);
    for (uint32_t i = 0; i < deg; ++i) {
      nbrs[i] = DecodeFixed32(rec + neighbors_at_ + size_t{i} * 4);
      if (nbrs[i] >= n_) return CorruptNode(node, "neighbour out of range");
    }
    g.SetNeighbors(node, {nbrs.data(), deg});
    return Status::Ok();
  }));
  return g;
}

class DiskIndex::DiskRows final : public RowSource {
 public:
  explicit DiskRows(const DiskIndex* idx) : idx_(idx) {}
  size_t size() const override { return idx_->size(); }
  size_t dim() const override { return idx_->dim(); }
  Status ReadRows(size_t begin, size_t n, float* out) const override {
    if (begin > size() || n > size() - begin) {
      return Status::InvalidArgument("vamana rows: range out of bounds");
    }
    const size_t dim = idx_->dim_;
    return idx_->ScanNodes(static_cast<uint32_t>(begin), static_cast<uint32_t>(begin + n),
                           [&](uint32_t node, const char* rec) {
                             std::memcpy(out + (node - begin) * dim, rec + idx_->vector_at_,
                                         dim * sizeof(float));
                             return Status::Ok();
                           });
  }

 private:
  const DiskIndex* idx_;
};

std::unique_ptr<RowSource> DiskIndex::Rows() const { return std::make_unique<DiskRows>(this); }

// Streams one section and checks its CRC; for the id map also each page's trailer.
Status DiskIndex::ScanSection(int section) const {
  static constexpr const char* kNames[] = {"navigation", "node", "id map", "payload"};
  const SectionRef& sec = sections_[static_cast<size_t>(section)];
  const auto bad = [&](const std::string& what) {
    return Status::Corruption(path_ + ": vamana " + kNames[section] + " section: " + what);
  };
  platform::AlignedBuffer buf(kScanBytes);
  uint32_t crc = 0;
  uint64_t page_index = 0;
  for (uint64_t pos = 0; pos < sec.length;) {
    const uint64_t want = std::min<uint64_t>(kScanBytes, sec.length - pos);
    const size_t len = static_cast<size_t>((want + kSectorBytes - 1) / kSectorBytes * kSectorBytes);
    SKEG_ASSIGN_OR_RETURN(const size_t got, file_->ReadAt(sec.offset + pos, len, buf.data()));
    reads_.fetch_add(1, std::memory_order_relaxed);
    bytes_read_.fetch_add(got, std::memory_order_relaxed);
    if (got != len) return bad("truncated");
    crc = crc32c::Extend(crc, buf.data(), static_cast<size_t>(want));
    if (section == internal::kIdMapSection) {
      for (size_t at = 0; at < len; at += kSectorBytes, ++page_index) {
        const char* page = buf.data() + at;
        const char* t = page + internal::kPageTrailerOffset;
        // Which level this page belongs to, from the level starts.
        uint32_t level = 0;
        while (level + 1 < idmap_levels_ && page_index >= idmap_level_start_[level + 1]) ++level;
        if (DecodeFixed32(t + 12) != internal::PageCrc(page) || DecodeFixed32(t) != level ||
            DecodeFixed32(t + 4) != page_index - idmap_level_start_[level]) {
          return bad("bad page " + std::to_string(page_index));
        }
      }
    }
    pos += want;
  }
  if (crc32c::Unmask(sec.crc) != crc) return bad("CRC mismatch");
  return Status::Ok();
}

Status DiskIndex::Verify() const {
  for (int i = 0; i < internal::kSectionCount; ++i) SKEG_RETURN_IF_ERROR(ScanSection(i));
  return ScanNodes(0, static_cast<uint32_t>(n_), [&](uint32_t node, const char* rec) {
    const uint32_t deg = DecodeFixed32(rec + 36);
    for (uint32_t i = 0; i < deg; ++i) {
      if (DecodeFixed32(rec + neighbors_at_ + size_t{i} * 4) >= n_) {
        return CorruptNode(node, "neighbour out of range");
      }
    }
    const uint64_t off = DecodeFixed64(rec + 16);
    const uint32_t len = DecodeFixed32(rec + 24);
    if (off > payload_bytes_ || len > payload_bytes_ - off) {
      return CorruptNode(node, "payload outside the payload section");
    }
    return Status::Ok();
  });
}

// ---- accounting ---------------------------------------------------------------------------------

size_t DiskIndex::MemoryUsage() const {
  size_t bytes =
      sizeof(*this) + path_.capacity() + nav_->MemoryUsage() + medoid_code_.capacity() +
      (idmap_level_start_.capacity() + idmap_level_pages_.capacity()) * sizeof(uint64_t) +
      sections_.capacity() * sizeof(SectionRef);
  std::lock_guard lock(pool_mu_);
  for (const auto& s : pool_) bytes += s->MemoryUsage();
  return bytes;
}

DiskIndex::IoStats DiskIndex::io_stats() const {
  IoStats st;
  st.reads = reads_.load(std::memory_order_relaxed);
  st.bytes_read = bytes_read_.load(std::memory_order_relaxed);
  st.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  st.cache_misses = cache_misses_.load(std::memory_order_relaxed);
  return st;
}

std::string_view DiskIndex::io_backend() const {
  return ThreadReader(prefer_io_uring_)->backend_name();
}

bool DiskIndex::direct_io() const { return file_->is_direct(); }

}  // namespace skeg::index::vamana
