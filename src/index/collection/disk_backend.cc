#include "index/collection/disk_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <utility>

#include "index/filter/filter.h"

namespace skeg::index {

using storage::KeySpace;
using storage::WriteBatch;

namespace {

constexpr uint64_t kRecordOverheadBytes =
    32 + records::kVectorKeyBytes + records::kVectorHeaderBytes;
// Pending tombstones that start a merge even when the delta is small: a tenth of the graph,
// at least this many.
constexpr uint64_t kMinTombstonesForMerge = 4096;
// Bytes of RAM per pending entry: the map node (id, stamp, flag, bucket pointer, hash).
constexpr size_t kPendingEntryBytes = 48;
// FlatIndex bookkeeping per row beyond the vector: id, slot metadata, id-map slot, norm.
constexpr uint64_t kDeltaRowOverheadBytes = 48;
// Rows read per chunk when validating or sampling a bulk load.
constexpr size_t kChunkRows = 1024;

float ScoreOf(Metric metric, float dist) { return metric == Metric::kL2 ? dist : -dist; }
float DistOf(Metric metric, float score) { return metric == Metric::kL2 ? score : -score; }

// Rows of the merged graph: surviving base nodes (new node i -> old node) then the inserts.
class MergedRows final : public vamana::RowSource {
 public:
  MergedRows(const vamana::RowSource* base, const std::vector<uint32_t>* new_to_old,
             const vamana::RowSource* inserts)
      : base_(base), new_to_old_(*new_to_old), inserts_(inserts) {}
  size_t size() const override { return new_to_old_.size() + inserts_->size(); }
  size_t dim() const override { return inserts_->dim(); }
  Status ReadRows(size_t begin, size_t n, float* out) const override {
    const size_t d = dim();
    size_t i = begin;
    while (i < begin + n) {
      float* dst = out + (i - begin) * d;
      if (i >= new_to_old_.size()) {
        return inserts_->ReadRows(i - new_to_old_.size(), begin + n - i, dst);
      }
      // A run of consecutive old nodes is one read.
      size_t run = 1;
      while (i + run < std::min(begin + n, new_to_old_.size()) &&
             new_to_old_[i + run] == new_to_old_[i] + run) {
        ++run;
      }
      SKEG_RETURN_IF_ERROR(base_->ReadRows(new_to_old_[i], run, dst));
      i += run;
    }
    return Status::Ok();
  }

 private:
  const vamana::RowSource* base_;
  const std::vector<uint32_t>& new_to_old_;
  const vamana::RowSource* inserts_;
};

// One folded insert's metadata.
struct InsertMeta {
  uint64_t id = 0;
  std::optional<uint64_t> attr;
  std::string payload;
};

class MergedMeta final : public vamana::NodeMetaSource {
 public:
  MergedMeta(const vamana::DiskIndex* base, const std::vector<uint32_t>* new_to_old,
             const std::vector<InsertMeta>* inserts)
      : base_(base), new_to_old_(new_to_old), inserts_(inserts) {}
  Status Meta(size_t node, vamana::NodeMeta* meta, std::string* payload) const override {
    if (node < new_to_old_->size()) return base_->ReadMeta((*new_to_old_)[node], meta, payload);
    const InsertMeta& m = (*inserts_)[node - new_to_old_->size()];
    meta->id = m.id;
    meta->has_attr = m.attr.has_value();
    meta->attr = m.attr.value_or(0);
    meta->payload_bytes = static_cast<uint32_t>(m.payload.size());
    payload->assign(m.payload);
    return Status::Ok();
  }

 private:
  const vamana::DiskIndex* base_;
  const std::vector<uint32_t>* new_to_old_;
  const std::vector<InsertMeta>* inserts_;
};

class BulkMeta final : public vamana::NodeMetaSource {
 public:
  explicit BulkMeta(std::span<const uint64_t> ids) : ids_(ids) {}
  Status Meta(size_t node, vamana::NodeMeta* meta, std::string* payload) const override {
    *meta = vamana::NodeMeta{};
    meta->id = ids_.empty() ? node : ids_[node];
    payload->clear();
    return Status::Ok();
  }

 private:
  std::span<const uint64_t> ids_;
};

}  // namespace

// A graph version and its tombstone bits. Shared by searches in flight; replaced whole by a
// merge commit.
struct DiskBackend::GraphVersion {
  uint64_t version = 0;
  std::unique_ptr<vamana::DiskIndex> index;  // null for version 0
  std::unique_ptr<std::atomic<uint64_t>[]> tombs;
  size_t words = 0;
  std::atomic<uint64_t> tomb_count{0};

  size_t size() const { return index ? index->size() : 0; }
  void SizeTombs() {
    words = (size() + 63) / 64;
    tombs = std::make_unique<std::atomic<uint64_t>[]>(words);
    for (size_t i = 0; i < words; ++i) tombs[i].store(0, std::memory_order_relaxed);
  }
  bool Tomb(uint32_t node) const {
    return (tombs[node / 64].load(std::memory_order_acquire) >> (node % 64)) & 1;
  }
  void SetTomb(uint32_t node) {
    const uint64_t bit = uint64_t{1} << (node % 64);
    if ((tombs[node / 64].fetch_or(bit, std::memory_order_acq_rel) & bit) == 0) {
      tomb_count.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // The node of `id`, or kNoNode.
  Result<uint32_t> Find(uint64_t id) const {
    if (!index) return vamana::kNoNode;
    return index->FindNode(id);
  }
};

struct DiskBackend::Snapshot {
  std::shared_ptr<GraphVersion> graph;
  std::vector<std::pair<uint64_t, Pending>> entries;
  std::vector<bool> deleted;  // per base node
};

FlatSearchRequest FlatRequestFor(std::span<const float> query, const SearchOptions& options) {
  FlatSearchRequest r;
  r.query = query.data();
  r.k = options.k;
  r.filter = options.filter;
  r.has_range = options.has_range;
  r.range_lo = options.range_lo;
  r.range_hi = options.range_hi;
  return r;
}

DiskBackend::DiskBackend(DiskBackendConfig config, const IndexSpec& spec, uint64_t index_id)
    : config_(std::move(config)), spec_(spec), index_id_(index_id) {
  delta_ = std::make_unique<FlatIndex>(spec.dim, spec.metric, nullptr, 1);
  records_ = records::NewRecordSource(config_.store, index_id, spec.dim);
}

DiskBackend::~DiskBackend() = default;

Result<std::unique_ptr<DiskBackend>> DiskBackend::Open(DiskBackendConfig config,
                                                       const IndexSpec& spec, uint64_t index_id,
                                                       uint64_t version) {
  std::unique_ptr<DiskBackend> b(new DiskBackend(std::move(config), spec, index_id));
  SKEG_ASSIGN_OR_RETURN(b->graph_, b->OpenVersion(version));
  return b;
}

std::string DiskBackend::VersionPath(uint64_t version) const {
  return config_.dir + "/v" + std::to_string(version) + ".vam";
}

Result<std::shared_ptr<DiskBackend::GraphVersion>> DiskBackend::OpenVersion(
    uint64_t version) const {
  auto g = std::make_shared<GraphVersion>();
  g->version = version;
  if (version != 0) {
    const std::string path = VersionPath(version);
    if (!config_.env->FileExists(path)) {
      return Status::Corruption("vector index '" + spec_.name + "': graph file " + path +
                                " named by the catalog is missing");
    }
    SKEG_ASSIGN_OR_RETURN(g->index, vamana::DiskIndex::Open(config_.env, path, config_.disk));
    if (g->index->dim() != spec_.dim || g->index->metric() != spec_.metric) {
      return Status::Corruption("vector index '" + spec_.name + "': graph file " + path +
                                " does not match the catalog (dim or metric)");
    }
  }
  g->SizeTombs();
  return g;
}

std::shared_ptr<DiskBackend::GraphVersion> DiskBackend::graph() const {
  std::lock_guard lock(graph_mu_);
  return graph_;
}

void DiskBackend::RemoveStaleFiles() {
  Result<std::vector<std::string>> names = config_.env->ListDir(config_.dir);
  if (!names.ok()) return;
  const std::string keep = "v" + std::to_string(graph()->version) + ".vam";
  for (const std::string& name : *names) {
    if (name != keep && name.starts_with("v") &&
        (name.ends_with(".vam") || name.ends_with(".vam.tmp"))) {
      config_.env->RemoveFile(config_.dir + "/" + name).IgnoreError();
    }
  }
}

Status DiskBackend::Replay(uint64_t id, const records::VectorView& record) {
  std::lock_guard lock(write_mu_);
  const std::shared_ptr<GraphVersion> g = graph();
  SKEG_ASSIGN_OR_RETURN(const uint32_t node, g->Find(id));
  if (record.tombstone) {
    // A tombstone whose id the graph does not hold (written while a merge ran that did not
    // fold the id after all) stays pending, so the next merge deletes the record.
    if (node != vamana::kNoNode) g->SetTomb(node);
    pending_[id] = {next_stamp_++, true};
    pending_tombstones_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  std::vector<float> vec(spec_.dim);
  std::memcpy(vec.data(), record.vec, vec.size() * sizeof(float));
  delta_->Upsert(id, vec.data(), record.payload, record.attr);
  pending_[id] = {next_stamp_++, false};
  if (node != vamana::kNoNode) g->SetTomb(node);
  return Status::Ok();
}

// The delta's live content: its f32 rows, per-row bookkeeping and payload attributes. (Its
// MemoryUsage() keeps the capacity of slots freed by a merge, so it cannot tell when a merge
// has made room.)
uint64_t DiskBackend::DeltaBytes() const {
  return delta_->size() * (uint64_t{spec_.dim} * sizeof(float) + kDeltaRowOverheadBytes) +
         delta_->payload_bytes();
}

bool DiskBackend::NeedsMerge() const {
  if (config_.read_only) return false;
  if (DeltaBytes() >= config_.delta_merge_bytes) return true;
  const uint64_t tombs = pending_tombstones_.load(std::memory_order_relaxed);
  return tombs >= std::max<uint64_t>(kMinTombstonesForMerge, graph()->size() / 10);
}

// ---- writes ------------------------------------------------------------------------------

Status DiskBackend::Put(std::span<const VectorWrite> vectors) {
  WriteBatch batch;
  std::string value;
  char key[records::kVectorKeyBytes];
  for (const VectorWrite& v : vectors) {
    records::VectorKey(index_id_, v.id, key);
    records::EncodeVector(v.vec, v.payload, v.attr, &value);
    batch.Put(std::string_view(key, sizeof(key)), value, storage::kNoExpiry, KeySpace::kVector);
  }
  std::unique_lock lock(write_mu_);
  // The delta's bound: wait for a merge while it holds twice the merge threshold.
  while (!dropped_ && last_merge_.ok() && DeltaBytes() >= 2 * config_.delta_merge_bytes) {
    if (merge_hint_) merge_hint_();
    space_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  if (dropped_) return Status::NotFound("unknown index '" + spec_.name + "'");
  if (DeltaBytes() >= 2 * config_.delta_merge_bytes && !last_merge_.ok()) {
    return Status::ResourceExhausted(
        "vector index '" + spec_.name +
        "': delta full and merging fails: " + std::string(last_merge_.message()));
  }
  SKEG_RETURN_IF_ERROR(config_.write(batch).status());
  const std::shared_ptr<GraphVersion> g = graph();
  for (const VectorWrite& v : vectors) {
    // Delta first, then the tombstone: a concurrent search sees the id twice at worst (and
    // keeps the delta's copy), never not at all.
    delta_->Upsert(v.id, v.vec.data(), v.payload, v.attr);
    Pending& p = pending_[v.id];
    if (p.tombstone) pending_tombstones_.fetch_sub(1, std::memory_order_relaxed);
    p = {next_stamp_++, false};
    SKEG_ASSIGN_OR_RETURN(const uint32_t node, g->Find(v.id));
    if (node != vamana::kNoNode) g->SetTomb(node);
  }
  lock.unlock();
  if (merge_hint_ && NeedsMerge()) merge_hint_();
  return Status::Ok();
}

Result<bool> DiskBackend::Delete(uint64_t id) {
  std::unique_lock lock(write_mu_);
  if (dropped_) return Status::NotFound("unknown index '" + spec_.name + "'");
  const std::shared_ptr<GraphVersion> g = graph();
  SKEG_ASSIGN_OR_RETURN(const uint32_t node, g->Find(id));
  auto it = pending_.find(id);
  const bool live = it != pending_.end() ? !it->second.tombstone : node != vamana::kNoNode;
  if (!live) return false;
  char key[records::kVectorKeyBytes];
  records::VectorKey(index_id_, id, key);
  WriteBatch batch;
  // A running merge may have read this id's pending vector already and fold it into the next
  // graph: then the delete must outlive the merge as a tombstone, like a delete of a graph node.
  const bool tombstone = node != vamana::kNoNode || merging_;
  if (tombstone) {
    std::string value;
    records::EncodeTombstone(&value);
    batch.Put(std::string_view(key, sizeof(key)), value, storage::kNoExpiry, KeySpace::kVector);
  } else {
    batch.Delete(std::string_view(key, sizeof(key)), KeySpace::kVector);
  }
  SKEG_RETURN_IF_ERROR(config_.write(batch).status());
  if (tombstone) {
    if (node != vamana::kNoNode) g->SetTomb(node);
    pending_[id] = {next_stamp_++, true};
    pending_tombstones_.fetch_add(1, std::memory_order_relaxed);
  } else {
    pending_.erase(id);
  }
  delta_->Remove(id);
  lock.unlock();
  if (merge_hint_ && NeedsMerge()) merge_hint_();
  return true;
}

// ---- reads -------------------------------------------------------------------------------

Result<std::optional<std::string>> DiskBackend::Get(uint64_t id) const {
  std::shared_lock swap(swap_mu_);
  char key[records::kVectorKeyBytes];
  records::VectorKey(index_id_, id, key);
  Result<storage::ReadResult> r =
      config_.store->Get(std::string_view(key, sizeof(key)), KeySpace::kVector);
  if (r.ok()) {
    SKEG_ASSIGN_OR_RETURN(records::VectorView v, records::DecodeVector(r->value, spec_.dim));
    if (v.tombstone) return std::optional<std::string>();
    return std::optional<std::string>(std::string(v.vec, size_t{v.dim} * sizeof(float)));
  }
  if (!r.status().IsNotFound()) return r.status();
  const std::shared_ptr<GraphVersion> g = graph();
  SKEG_ASSIGN_OR_RETURN(const uint32_t node, g->Find(id));
  if (node == vamana::kNoNode || g->Tomb(node)) return std::optional<std::string>();
  std::string out(size_t{spec_.dim} * sizeof(float), '\0');
  SKEG_RETURN_IF_ERROR(g->index->ReadVector(node, reinterpret_cast<float*>(out.data())));
  return std::optional<std::string>(std::move(out));
}

namespace {

// Tombstones, RANGE and FILTER for graph nodes.
class Acceptor final : public vamana::NodeAcceptor {
 public:
  using TombFn = bool (*)(const void* graph, uint32_t node);
  Acceptor(const void* graph, TombFn tomb, const vamana::DiskIndex* index,
           const SearchOptions& options)
      : graph_(graph), tomb_(tomb), index_(index), options_(options) {}

  bool Accept(uint32_t node, const vamana::NodeMeta& meta) const override {
    if (tomb_(graph_, node)) return false;
    if (options_.has_range &&
        (!meta.has_attr || meta.attr < options_.range_lo || meta.attr > options_.range_hi)) {
      return false;
    }
    if (options_.filter == nullptr) return true;
    tokens_.clear();
    if (meta.payload_bytes != 0) {
      vamana::NodeMeta m;
      if (Status s = index_->ReadMeta(node, &m, &payload_); !s.ok()) {
        if (status_.ok()) status_ = s;
        return false;
      }
      ParsePayload(payload_, &tokens_);
      if (tokens_.size() > FlatIndex::kMaxTokensPerVector) {
        tokens_.resize(FlatIndex::kMaxTokensPerVector);
      }
    }
    return options_.filter->Matches(tokens_);
  }
  const Status& status() const { return status_; }

 private:
  const void* graph_;
  TombFn tomb_;
  const vamana::DiskIndex* index_;
  const SearchOptions& options_;
  mutable std::string payload_;
  mutable std::vector<PayloadToken> tokens_;
  mutable Status status_;
};

}  // namespace

Status DiskBackend::Search(std::span<const float> query, const SearchOptions& options,
                           SearchResult* out) const {
  out->hits.clear();
  out->payloads.clear();
  std::shared_lock swap(swap_mu_);
  const std::shared_ptr<GraphVersion> g = graph();

  // The delta: exact brute force.
  std::vector<SearchHit> delta_hits;
  SKEG_RETURN_IF_ERROR(delta_->Search(FlatRequestFor(query, options), records_.get(), &delta_hits));

  // The graph: beam search, exact distances of the expanded nodes.
  std::vector<vamana::DiskHit> graph_hits;
  if (g->index && g->index->size() > 0) {
    vamana::DiskSearchParams p;
    p.k = options.k;
    p.l_search = options.l_search != 0 ? options.l_search : config_.l_search;
    p.beam_width = options.beam_width != 0 ? options.beam_width : config_.beam_width;
    const Acceptor accept(
        g.get(),
        [](const void* graph, uint32_t node) {
          return static_cast<const GraphVersion*>(graph)->Tomb(node);
        },
        g->index.get(), options);
    SKEG_RETURN_IF_ERROR(g->index->Search(query.data(), p, &accept, &graph_hits));
    SKEG_RETURN_IF_ERROR(accept.status());
  }

  // Merge by distance; an id in both (a write racing this search) keeps the delta's copy.
  struct Merged {
    float dist;
    uint64_t id;
    uint32_t node;  // kNoNode: from the delta
  };
  std::vector<Merged> all;
  all.reserve(delta_hits.size() + graph_hits.size());
  for (const SearchHit& h : delta_hits) {
    all.push_back({DistOf(spec_.metric, h.score), h.id, vamana::kNoNode});
  }
  for (const vamana::DiskHit& h : graph_hits) {
    const bool dup = std::any_of(delta_hits.begin(), delta_hits.end(),
                                 [&](const SearchHit& d) { return d.id == h.id; });
    if (!dup) all.push_back({h.dist, h.id, h.node});
  }
  std::sort(all.begin(), all.end(), [](const Merged& a, const Merged& b) {
    return a.dist != b.dist ? a.dist < b.dist : a.id < b.id;
  });
  if (all.size() > options.k) all.resize(options.k);
  out->hits.reserve(all.size());
  for (const Merged& m : all) out->hits.push_back({m.id, ScoreOf(spec_.metric, m.dist)});
  if (!options.with_payload) return Status::Ok();

  std::vector<float> vec(spec_.dim);
  FetchedRecord rec;
  std::string payload;
  for (const Merged& m : all) {
    if (m.node == vamana::kNoNode) {
      SKEG_ASSIGN_OR_RETURN(bool found, records_->Fetch(m.id, vec.data(), &rec));
      if (found && !rec.payload.empty()) {
        out->payloads.emplace_back(std::string(rec.payload));
      } else {
        out->payloads.emplace_back();
      }
    } else {
      vamana::NodeMeta meta;
      SKEG_RETURN_IF_ERROR(g->index->ReadMeta(m.node, &meta, &payload));
      if (meta.payload_bytes != 0) {
        out->payloads.emplace_back(payload);
      } else {
        out->payloads.emplace_back();
      }
    }
  }
  return Status::Ok();
}

// ---- merge -------------------------------------------------------------------------------

Result<std::unique_ptr<Quantizer>> DiskBackend::NewNavQuantizer(
    const vamana::RowSource& rows) const {
  const QuantKind kind =
      spec_.kind == VectorKind::kF32 ? config_.nav_kind : static_cast<QuantKind>(spec_.kind);
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<Quantizer> q,
                        MakeQuantizer(kind, spec_.dim, spec_.metric, config_.quantizer_params));
  if (q->is_trained()) return q;
  // int8 / pq learn from a strided sample of the rows.
  const size_t n = rows.size();
  const size_t want = std::min<size_t>(n, config_.quantizer_params.max_train_rows);
  if (want == 0) return Status::InvalidArgument("no rows to train the navigation code on");
  const size_t stride = std::max<size_t>(1, n / want);
  std::vector<float> sample;
  sample.resize(want * spec_.dim);
  size_t got = 0;
  for (size_t row = 0; row < n && got < want; row += stride, ++got) {
    SKEG_RETURN_IF_ERROR(rows.ReadRows(row, 1, sample.data() + got * spec_.dim));
  }
  SKEG_RETURN_IF_ERROR(q->Train(sample.data(), got));
  return q;
}

Status DiskBackend::WriteVersion(uint64_t version, const vamana::RowSource& rows,
                                 const vamana::Graph& graph, const vamana::NodeMetaSource& meta,
                                 const Quantizer& nav, const vamana::ProgressFn& progress) const {
  platform::Env* env = config_.env;
  // DIR/indexes, then DIR/indexes/<id>.
  const std::string parent = config_.dir.substr(0, config_.dir.rfind('/'));
  if (!parent.empty() && !env->FileExists(parent)) SKEG_RETURN_IF_ERROR(env->CreateDir(parent));
  if (!env->FileExists(config_.dir)) SKEG_RETURN_IF_ERROR(env->CreateDir(config_.dir));
  const std::string path = VersionPath(version);
  const std::string tmp = path + ".tmp";
  if (env->FileExists(tmp)) SKEG_RETURN_IF_ERROR(env->RemoveFile(tmp));
  vamana::DiskWriteOptions w;
  w.metric = spec_.metric;
  w.nav = &nav;
  w.progress = progress;
  SKEG_RETURN_IF_ERROR(vamana::WriteDiskIndex(env, tmp, rows, graph, meta, w));
  SKEG_RETURN_IF_ERROR(env->RenameFile(tmp, path));
  return env->SyncDir(config_.dir);
}

std::string DiskBackend::CatalogValue(uint64_t version, const Quantizer& nav) const {
  records::CatalogEntry e;
  e.spec = spec_;
  e.index_id = index_id_;
  // Kind f32 keeps an empty quantizer field (its navigation code is in the graph file).
  if (spec_.kind != VectorKind::kF32) e.quantizer = nav.Serialize();
  e.graph_version = version;
  return records::EncodeCatalog(e);
}

Status DiskBackend::Commit(const Snapshot& snap, std::shared_ptr<GraphVersion> next,
                           const Quantizer& nav) {
  std::unique_lock lock(write_mu_);
  if (dropped_) return Status::Cancelled("index dropped during the merge");
  WriteBatch batch;
  batch.Put(records::CatalogKey(spec_.name), CatalogValue(next->version, nav), storage::kNoExpiry,
            KeySpace::kCatalog);
  char key[records::kVectorKeyBytes];
  std::vector<std::pair<uint64_t, bool>> folded;  // id, was a tombstone
  for (const auto& [id, p] : snap.entries) {
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.stamp != p.stamp) continue;  // rewritten since
    records::VectorKey(index_id_, id, key);
    batch.Delete(std::string_view(key, sizeof(key)), KeySpace::kVector);
    folded.emplace_back(id, p.tombstone);
  }
  // Entries that stay pending tombstone their ids in the new graph (`folded` is in id order:
  // snap.entries is sorted).
  for (const auto& [id, p] : pending_) {
    const auto f = std::lower_bound(folded.begin(), folded.end(), std::make_pair(id, false));
    if (f != folded.end() && f->first == id) continue;
    SKEG_ASSIGN_OR_RETURN(const uint32_t node, next->Find(id));
    if (node != vamana::kNoNode) next->SetTomb(node);
  }
  std::unique_lock swap(swap_mu_);
  storage::WriteOptions wo;
  wo.force_sync = true;  // the old version's file is deleted below
  SKEG_RETURN_IF_ERROR(config_.store->Write(batch, wo).status());
  const std::shared_ptr<GraphVersion> old = graph();
  {
    std::lock_guard g(graph_mu_);
    graph_ = next;
  }
  for (const auto& [id, tombstone] : folded) {
    pending_.erase(id);
    if (tombstone) {
      pending_tombstones_.fetch_sub(1, std::memory_order_relaxed);
    } else {
      delta_->Remove(id);
    }
  }
  // Everything pending was folded (the usual case): give the delta's rows back rather than
  // keep their capacity until the next burst of writes.
  delta_->ReleaseIfEmpty();
  swap.unlock();
  space_cv_.notify_all();
  // Searches still holding the old version keep its descriptor; the name goes now.
  if (old->version != 0) config_.env->RemoveFile(VersionPath(old->version)).IgnoreError();
  return Status::Ok();
}

Status DiskBackend::Merge() {
  if (config_.read_only) return Status::NotSupported("read-only (serve mode): no merges");
  std::lock_guard merge_lock(merge_mu_);
  Snapshot snap;
  {
    std::lock_guard lock(write_mu_);
    if (dropped_) return Status::NotFound("unknown index '" + spec_.name + "'");
    if (pending_.empty()) return Status::Ok();
    merging_ = true;
    snap.graph = graph();
    snap.entries.assign(pending_.begin(), pending_.end());
    snap.deleted.assign(snap.graph->size(), false);
    for (size_t i = 0; i < snap.deleted.size(); ++i) {
      snap.deleted[i] = snap.graph->Tomb(static_cast<uint32_t>(i));
    }
  }
  // The pending vectors, read back from their records (a record rewritten since the snapshot
  // gives its newer value, which is then superseded again at commit; see Commit()).
  std::sort(snap.entries.begin(), snap.entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<float> insert_rows;
  std::vector<InsertMeta> insert_meta;
  std::vector<float> vec(spec_.dim);
  FetchedRecord rec;
  for (const auto& [id, p] : snap.entries) {
    if (p.tombstone) continue;
    SKEG_ASSIGN_OR_RETURN(bool found, records_->Fetch(id, vec.data(), &rec));
    if (!found) continue;
    insert_rows.insert(insert_rows.end(), vec.begin(), vec.end());
    insert_meta.push_back({id, rec.attr, std::string(rec.payload)});
  }
  const vamana::SpanRowSource inserts(insert_rows, spec_.dim);

  Status status;
  {
    const GraphVersion& base = *snap.graph;
    std::unique_ptr<vamana::RowSource> base_rows;
    vamana::Graph base_graph;
    if (base.index) {
      base_rows = base.index->Rows();
      SKEG_ASSIGN_OR_RETURN(base_graph, base.index->LoadGraph());
    }
    vamana::MergeInput in;
    in.base = base.index ? &base_graph : nullptr;
    in.base_rows = base_rows.get();
    in.deleted = &snap.deleted;
    in.inserts = &inserts;
    SKEG_ASSIGN_OR_RETURN(vamana::MergeResult merged,
                          vamana::StreamingMerge(in, spec_.metric, config_.build));
    base_graph = vamana::Graph();  // free before writing
    std::vector<uint32_t> new_to_old;
    for (size_t old = 0; old < merged.old_to_new.size(); ++old) {
      if (merged.old_to_new[old] != vamana::kNoNode)
        new_to_old.push_back(static_cast<uint32_t>(old));
    }
    const MergedMeta meta(base.index.get(), &new_to_old, &insert_meta);
    const MergedRows rows(base_rows.get(), &new_to_old, &inserts);
    std::unique_ptr<Quantizer> fresh;
    const Quantizer* nav = nullptr;
    if (base.index) {
      nav = &base.index->nav_quantizer();
    } else {
      SKEG_ASSIGN_OR_RETURN(fresh, NewNavQuantizer(rows));
      nav = fresh.get();
    }
    const uint64_t version = base.version + 1;
    if (merged.graph.size() == 0) {
      // Everything was deleted: version 0 again (no graph file).
      auto empty = std::make_shared<GraphVersion>();
      empty->SizeTombs();
      status = Commit(snap, std::move(empty), *nav);
    } else {
      status = WriteVersion(version, rows, merged.graph, meta, *nav, {});
      if (status.ok()) {
        Result<std::shared_ptr<GraphVersion>> next = OpenVersion(version);
        status = next.status();
        if (status.ok()) status = Commit(snap, std::move(*next), *nav);
      }
      if (!status.ok()) config_.env->RemoveFile(VersionPath(version)).IgnoreError();
    }
  }
  {
    std::lock_guard lock(write_mu_);
    last_merge_ = status;
    merging_ = false;
  }
  space_cv_.notify_all();
  if (status.ok()) merges_.fetch_add(1, std::memory_order_relaxed);
  return status;
}

Status DiskBackend::BulkLoad(const vamana::RowSource& rows, std::span<const uint64_t> ids,
                             const BulkLoadOptions& options) {
  if (config_.read_only) return Status::NotSupported("read-only (serve mode)");
  if (rows.dim() != spec_.dim) {
    return Status::InvalidArgument("wrong vector dimension: index '" + spec_.name + "' has dim " +
                                   std::to_string(spec_.dim) + ", input has " +
                                   std::to_string(rows.dim()));
  }
  const size_t n = rows.size();
  if (n == 0) return Status::InvalidArgument("no vectors to load");
  if (n >= vamana::kNoNode) return Status::InvalidArgument("too many vectors for one index");
  if (!ids.empty()) {
    if (ids.size() != n) {
      return Status::InvalidArgument("got " + std::to_string(ids.size()) + " ids for " +
                                     std::to_string(n) + " vectors");
    }
    std::vector<uint64_t> sorted(ids.begin(), ids.end());
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return Status::InvalidArgument("duplicate ids in the input");
    }
  }
  std::lock_guard merge_lock(merge_mu_);
  {
    std::lock_guard lock(write_mu_);
    if (dropped_) return Status::NotFound("unknown index '" + spec_.name + "'");
    if (graph()->version != 0 || !pending_.empty()) {
      return Status::InvalidArgument("index '" + spec_.name + "' is not empty");
    }
  }
  // Every component finite (the server's rule for every vector it stores).
  std::vector<float> chunk(kChunkRows * spec_.dim);
  for (size_t begin = 0; begin < n; begin += kChunkRows) {
    const size_t m = std::min(kChunkRows, n - begin);
    SKEG_RETURN_IF_ERROR(rows.ReadRows(begin, m, chunk.data()));
    for (size_t i = 0; i < m * spec_.dim; ++i) {
      if (!std::isfinite(chunk[i])) {
        return Status::InvalidArgument("vector " + std::to_string(begin + i / spec_.dim) +
                                       " contains NaN or Inf");
      }
    }
    if (options.progress) options.progress("check", begin + m, n);
  }
  chunk = {};
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<Quantizer> nav, NewNavQuantizer(rows));
  SKEG_ASSIGN_OR_RETURN(vamana::Graph g,
                        vamana::BuildGraph(rows, spec_.metric, config_.build, options.progress));
  const BulkMeta meta(ids);
  SKEG_RETURN_IF_ERROR(WriteVersion(1, rows, g, meta, *nav, options.progress));
  g = vamana::Graph();
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<GraphVersion> next, OpenVersion(1));
  Snapshot snap;
  return Commit(snap, std::move(next), *nav);
}

Status DiskBackend::Drop() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(write_mu_);
    dropped_ = true;
    for (const auto& [id, p] : pending_) ids.push_back(id);
    pending_.clear();
  }
  space_cv_.notify_all();
  std::lock_guard merge_lock(merge_mu_);  // let a running merge finish (it sees dropped_)
  char key[records::kVectorKeyBytes];
  for (size_t i = 0; i < ids.size(); i += 4096) {
    WriteBatch batch;
    for (size_t j = i; j < std::min(ids.size(), i + 4096); ++j) {
      records::VectorKey(index_id_, ids[j], key);
      batch.Delete(std::string_view(key, sizeof(key)), KeySpace::kVector);
    }
    SKEG_RETURN_IF_ERROR(config_.write(batch).status());
  }
  Result<std::vector<std::string>> names = config_.env->ListDir(config_.dir);
  if (names.ok()) {
    for (const std::string& name : *names) {
      config_.env->RemoveFile(config_.dir + "/" + name).IgnoreError();
    }
    config_.env->RemoveFile(config_.dir).IgnoreError();
  }
  return Status::Ok();
}

// ---- introspection -----------------------------------------------------------------------

uint64_t DiskBackend::size() const {
  const std::shared_ptr<GraphVersion> g = graph();
  return g->size() - g->tomb_count.load(std::memory_order_relaxed) + delta_->size();
}

void DiskBackend::FillInfo(IndexInfo* info) const {
  const std::shared_ptr<GraphVersion> g = graph();
  info->n_vectors = size();
  info->deleted = pending_tombstones_.load(std::memory_order_relaxed);
  info->ram_bytes = MemoryUsage();
  size_t pending = 0;
  {
    std::lock_guard lock(write_mu_);
    pending = pending_.size();
  }
  info->pending = pending;
  info->graph_version = g->version;
  info->graph_nodes = g->size();
  info->disk_bytes = (g->index ? g->index->file_bytes() : 0) +
                     delta_->size() * (kRecordOverheadBytes + uint64_t{spec_.dim} * 4) +
                     delta_->payload_bytes();
  info->trained = true;
  info->rerank_candidates_per_k = 0;
}

size_t DiskBackend::MemoryUsage() const {
  const std::shared_ptr<GraphVersion> g = graph();
  size_t bytes = sizeof(*this) + delta_->MemoryUsage() + g->words * sizeof(uint64_t);
  if (g->index) bytes += g->index->MemoryUsage();
  std::lock_guard lock(write_mu_);
  bytes += pending_.size() * kPendingEntryBytes;
  return bytes;
}

}  // namespace skeg::index
