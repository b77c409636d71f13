#include "index/collection/collection.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "common/ascii.h"
#include "index/collection/disk_backend.h"
#include "index/collection/records.h"

namespace skeg::index {
namespace {

using storage::KeySpace;
using storage::WriteBatch;

// Records deleted per batch when dropping an index or removing orphans.
constexpr size_t kDeleteChunk = 4096;
// Value-log bytes of one vector record beyond key, vector and payload: the record header.
constexpr uint64_t kRecordOverheadBytes =
    32 + records::kVectorKeyBytes + records::kVectorHeaderBytes;

constexpr std::string_view kKindNames[] = {"f32", "int8", "binary", "tq1", "tq2", "tq4", "pq"};
constexpr std::string_view kBackendNames[] = {"flat", "disk"};

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Status UnknownIndex(std::string_view name) {
  return Status::NotFound("unknown index '" + std::string(name) + "'");
}

// Parameters every quantizer of the collection is made with (persisted in its Serialize()).
QuantizerParams ParamsFor(const CollectionOptions& o) {
  QuantizerParams p;
  p.train_iterations = 8;
  p.max_train_rows = static_cast<uint32_t>(std::max<size_t>(o.pq_train_rows, 256));
  return p;
}

}  // namespace

// One index. `flat` and `source` are internally synchronized; `write_mu` serializes writers
// (puts, deletes, drop, the training switch) so RAM is updated in value-log order.
struct Collection::Index {
  IndexSpec spec;
  uint64_t index_id = 0;
  size_t train_rows = 0;  // 0: the kind needs no training
  std::unique_ptr<FlatIndex> flat;
  std::unique_ptr<VectorSource> source;
  std::unique_ptr<DiskBackend> disk;  // backend disk: everything above is unused but `spec`
  std::mutex write_mu;
  bool dropped = false;  // guarded by write_mu
  std::atomic<bool> training{false};
};

// ---- names and specs -------------------------------------------------------------------

std::string_view VectorKindName(VectorKind kind) { return kKindNames[static_cast<uint8_t>(kind)]; }

std::string_view BackendName(Backend backend) {
  return kBackendNames[static_cast<uint8_t>(backend)];
}

Result<VectorKind> ParseVectorKind(std::string_view name) {
  for (size_t i = 0; i < std::size(kKindNames); ++i) {
    if (EqualsIgnoreCase(name, kKindNames[i])) return static_cast<VectorKind>(i);
  }
  return Status::InvalidArgument("unknown kind '" + std::string(name) +
                                 "' (expected f32, int8, binary, tq1, tq2, tq4 or pq)");
}

Result<Backend> ParseBackend(std::string_view name) {
  for (size_t i = 0; i < std::size(kBackendNames); ++i) {
    if (EqualsIgnoreCase(name, kBackendNames[i])) return static_cast<Backend>(i);
  }
  return Status::InvalidArgument("unknown backend '" + std::string(name) +
                                 "' (expected flat or disk)");
}

Status ValidateIndexName(std::string_view name) {
  if (name.empty() || name.size() > kMaxIndexNameBytes) {
    return Status::InvalidArgument("bad index name: must be 1 to 255 bytes");
  }
  const auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad index name '" + std::string(name) +
                                   "': " + std::string(why));
  };
  if (name.find("::") != std::string_view::npos) return bad("must not contain '::'");
  if (name == "." || name == "..") return bad("'.' and '..' are reserved");
  if (name.find("..") != std::string_view::npos) return bad("must not contain '..'");
  for (char c : name) {
    if (!IsNameChar(c)) return bad("only A-Z a-z 0-9 . _ - are allowed");
  }
  return Status::Ok();
}

Status IndexSpec::Validate() const {
  SKEG_RETURN_IF_ERROR(ValidateIndexName(name));
  if (dim < 1 || dim > kMaxVectorDim) {
    return Status::InvalidArgument("bad dim " + std::to_string(dim) + ": must be between 1 and " +
                                   std::to_string(kMaxVectorDim));
  }
  if (kind != VectorKind::kF32) {
    Status s = CheckQuantizerDim(static_cast<QuantKind>(kind), dim, QuantizerParams{});
    if (!s.ok()) {
      return Status::InvalidArgument("dim " + std::to_string(dim) + " not allowed for kind " +
                                     std::string(VectorKindName(kind)) + ": " +
                                     std::string(s.message()));
    }
  }
  if (m < 1 || m > 1024) return Status::InvalidArgument("bad M: must be between 1 and 1024");
  if (ef_construction < 1 || ef_construction > 65536) {
    return Status::InvalidArgument("bad EF_CONSTRUCTION: must be between 1 and 65536");
  }
  if (!(alpha >= 1.0f && alpha <= 16.0f)) {
    return Status::InvalidArgument("bad ALPHA: must be between 1 and 16");
  }
  return Status::Ok();
}

Status CollectionOptions::Validate() const {
  if (store == nullptr) return Status::InvalidArgument("collection needs a store");
  if (pq_train_rows < 256 || int8_train_rows < 1) {
    return Status::InvalidArgument("training thresholds too small (pq >= 256, int8 >= 1)");
  }
  for (size_t m : {rerank_int8, rerank_binary, rerank_tq1, rerank_tq2, rerank_tq4, rerank_pq}) {
    if (m < 1 || m > 1000) return Status::InvalidArgument("re-rank multipliers must be 1..1000");
  }
  return Status::Ok();
}

// ---- open --------------------------------------------------------------------------------

Collection::Collection(const CollectionOptions& options) : options_(options) {}
Collection::~Collection() {
  if (merger_.joinable()) {
    {
      std::lock_guard lock(merge_mu_);
      merge_stop_ = true;
    }
    merge_cv_.notify_all();
    merger_.join();
  }
}

Result<std::unique_ptr<Collection>> Collection::Open(const CollectionOptions& options) {
  SKEG_RETURN_IF_ERROR(options.Validate());
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Collection> c(new Collection(options));
  SKEG_RETURN_IF_ERROR(c->Load());
  if (options.background_merge && !options.read_only) {
    Collection* raw = c.get();
    c->merger_ = std::thread([raw] { raw->MergeLoop(); });
  }
  c->open_info_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return c;
}

Result<uint32_t> Collection::Write(const WriteBatch& batch) const {
  if (options_.write) return options_.write(batch);
  return options_.store->Write(batch);
}

Result<std::shared_ptr<Collection::Index>> Collection::MakeIndex(
    const IndexSpec& spec, uint64_t index_id, std::unique_ptr<Quantizer> quantizer,
    uint64_t graph_version) {
  auto idx = std::make_shared<Index>();
  idx->spec = spec;
  idx->index_id = index_id;
  if (spec.backend == Backend::kDisk) {
    DiskBackendConfig c;
    c.store = options_.store;
    c.write = [this](const WriteBatch& batch) { return Write(batch); };
    c.env = options_.env != nullptr ? options_.env : platform::Env::Default();
    c.dir = options_.index_dir + "/" + std::to_string(index_id);
    c.disk.cache = options_.cache;
    c.disk.direct_io = options_.direct_io;
    c.disk.prefer_io_uring = options_.prefer_io_uring;
    c.build.degree = spec.m;
    c.build.build_list = std::max(spec.ef_construction, spec.m);
    c.build.alpha = spec.alpha;
    c.build.threads = options_.build_threads;
    c.build.build_memory_bytes = options_.build_memory_bytes;
    c.l_search = options_.l_search;
    c.beam_width = options_.beam_width;
    c.delta_merge_bytes = options_.delta_merge_bytes;
    c.nav_kind = options_.default_tier;
    c.quantizer_params = ParamsFor(options_);
    c.read_only = options_.read_only;
    SKEG_ASSIGN_OR_RETURN(idx->disk,
                          DiskBackend::Open(std::move(c), spec, index_id, graph_version));
    idx->disk->set_merge_hint([this] { WakeMerger(); });
    return idx;
  }
  size_t rerank = 1;
  switch (spec.kind) {
    case VectorKind::kF32:
      break;
    case VectorKind::kInt8:
      rerank = options_.rerank_int8;
      idx->train_rows = options_.int8_train_rows;
      break;
    case VectorKind::kBinary:
      rerank = options_.rerank_binary;
      break;
    case VectorKind::kTq1:
      rerank = options_.rerank_tq1;
      break;
    case VectorKind::kTq2:
      rerank = options_.rerank_tq2;
      break;
    case VectorKind::kTq4:
      rerank = options_.rerank_tq4;
      break;
    case VectorKind::kPq:
      rerank = options_.rerank_pq;
      idx->train_rows = options_.pq_train_rows;
      break;
  }
  idx->flat = std::make_unique<FlatIndex>(spec.dim, spec.metric, std::move(quantizer), rerank);
  idx->source = records::NewRecordSource(options_.store, index_id, spec.dim);
  return idx;
}

// ---- background merges -------------------------------------------------------------------

void Collection::WakeMerger() {
  {
    std::lock_guard lock(merge_mu_);
    merge_wanted_ = true;
  }
  merge_cv_.notify_one();
}

void Collection::MergeLoop() {
  std::unique_lock lock(merge_mu_);
  while (!merge_stop_) {
    merge_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return merge_stop_ || merge_wanted_; });
    if (merge_stop_) break;
    merge_wanted_ = false;
    lock.unlock();
    std::vector<std::shared_ptr<Index>> disk;
    {
      std::shared_lock indexes(mu_);
      for (const auto& [name, idx] : indexes_) {
        if (idx->disk && idx->disk->NeedsMerge()) disk.push_back(idx);
      }
    }
    // A failed merge is kept by the backend (Info, and writers once the delta is full) and
    // retried on the next round.
    for (const auto& idx : disk) idx->disk->Merge().IgnoreError();
    lock.lock();
  }
}

Status Collection::Load() {
  storage::Store* store = options_.store;
  // Catalog.
  std::vector<std::string> catalog_keys;
  SKEG_RETURN_IF_ERROR(store->ForEachKey(
      [&](std::string_view key) {
        if (key.starts_with(records::kCatalogPrefix)) catalog_keys.emplace_back(key);
        return true;
      },
      KeySpace::kCatalog));
  std::unordered_map<uint64_t, std::shared_ptr<Index>> by_id;
  for (const std::string& key : catalog_keys) {
    Result<storage::ReadResult> r = store->Get(key, KeySpace::kCatalog);
    if (r.status().IsNotFound()) continue;
    SKEG_RETURN_IF_ERROR(r.status());
    SKEG_ASSIGN_OR_RETURN(records::CatalogEntry e, records::DecodeCatalog(r->value));
    if (Status s = e.spec.Validate(); !s.ok()) {
      return Status::Corruption("vector catalog record of '" + e.spec.name +
                                "': " + std::string(s.message()));
    }
    std::unique_ptr<Quantizer> q;
    if (e.spec.kind != VectorKind::kF32) {
      SKEG_ASSIGN_OR_RETURN(q, DeserializeQuantizer(e.quantizer));
      if (q->kind() != static_cast<QuantKind>(e.spec.kind) || q->dim() != e.spec.dim ||
          q->metric() != e.spec.metric) {
        return Status::Corruption("vector catalog record of '" + e.spec.name +
                                  "': quantizer does not match the index");
      }
    }
    SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx,
                          MakeIndex(e.spec, e.index_id, std::move(q), e.graph_version));
    next_index_id_ = std::max(next_index_id_, e.index_id + 1);
    by_id[e.index_id] = idx;
    indexes_[e.spec.name] = std::move(idx);
  }

  // Vector records, grouped by index.
  std::unordered_map<uint64_t, std::vector<uint64_t>> ids;
  std::vector<std::string> orphans;
  SKEG_RETURN_IF_ERROR(store->ForEachKey(
      [&](std::string_view key) {
        uint64_t index_id = 0;
        uint64_t id = 0;
        if (records::ParseVectorKey(key, &index_id, &id) && by_id.count(index_id) != 0) {
          ids[index_id].push_back(id);
        } else {
          orphans.emplace_back(key);
          if (key.size() == records::kVectorKeyBytes) {
            next_index_id_ = std::max(next_index_id_, index_id + 1);
          }
        }
        return true;
      },
      KeySpace::kVector));
  std::vector<float> vec;
  for (auto& [index_id, list] : ids) {
    Index& idx = *by_id[index_id];
    std::sort(list.begin(), list.end());  // id order: deterministic training samples
    vec.resize(idx.spec.dim);
    char key[records::kVectorKeyBytes];
    for (uint64_t id : list) {
      records::VectorKey(index_id, id, key);
      Result<storage::ReadResult> r =
          store->Get(std::string_view(key, sizeof(key)), KeySpace::kVector);
      if (r.status().IsNotFound()) continue;
      SKEG_RETURN_IF_ERROR(r.status());
      SKEG_ASSIGN_OR_RETURN(records::VectorView v, records::DecodeVector(r->value, idx.spec.dim));
      if (idx.disk) {
        SKEG_RETURN_IF_ERROR(idx.disk->Replay(id, v));
        continue;
      }
      if (v.tombstone) {
        return Status::Corruption("vector record of flat index '" + idx.spec.name +
                                  "' is a tombstone");
      }
      std::memcpy(vec.data(), v.vec, vec.size() * sizeof(float));
      idx.flat->Upsert(id, vec.data(), v.payload, v.attr);
    }
  }
  // Records of indexes whose drop did not finish.
  if (options_.read_only) orphans.clear();
  for (size_t i = 0; i < orphans.size(); i += kDeleteChunk) {
    WriteBatch batch;
    for (size_t j = i; j < std::min(orphans.size(), i + kDeleteChunk); ++j) {
      batch.Delete(orphans[j], KeySpace::kVector);
    }
    SKEG_RETURN_IF_ERROR(Write(batch).status());
  }
  open_info_.orphan_records_removed = orphans.size();
  // Live vectors, graph-resident ones of disk indexes included.
  open_info_.vectors = 0;
  for (const auto& [name, idx] : indexes_) {
    open_info_.vectors += idx->disk ? idx->disk->size() : idx->flat->size();
  }
  open_info_.indexes = indexes_.size();
  for (auto& [name, idx] : indexes_) {
    if (idx->disk) {
      if (!options_.read_only) idx->disk->RemoveStaleFiles();
      continue;
    }
    const bool was_waiting = idx->flat->awaiting_training();
    SKEG_RETURN_IF_ERROR(MaybeTrain(idx.get()));
    if (was_waiting && !idx->flat->awaiting_training()) ++open_info_.trained_at_open;
  }
  return Status::Ok();
}

// ---- catalog -----------------------------------------------------------------------------

Result<std::shared_ptr<Collection::Index>> Collection::Find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = indexes_.find(name);
  if (it == indexes_.end()) return UnknownIndex(name);
  return it->second;
}

Status Collection::WriteCatalog(const Index& index, std::string_view quantizer_bytes) {
  records::CatalogEntry e;
  e.spec = index.spec;
  e.index_id = index.index_id;
  e.quantizer.assign(quantizer_bytes);
  WriteBatch batch;
  batch.Put(records::CatalogKey(index.spec.name), records::EncodeCatalog(e), storage::kNoExpiry,
            KeySpace::kCatalog);
  return Write(batch).status();
}

Status Collection::Create(const IndexSpec& spec) {
  SKEG_RETURN_IF_ERROR(spec.Validate());
  if (spec.backend == Backend::kDisk && options_.index_dir.empty()) {
    return Status::InvalidArgument("disk indexes need a data directory");
  }
  std::unique_ptr<Quantizer> q;
  if (spec.kind != VectorKind::kF32) {
    SKEG_ASSIGN_OR_RETURN(q, MakeQuantizer(static_cast<QuantKind>(spec.kind), spec.dim, spec.metric,
                                           ParamsFor(options_)));
  }
  const std::string qbytes = q ? q->Serialize() : std::string();
  std::unique_lock lock(mu_);
  if (indexes_.count(spec.name) != 0) {
    return Status::AlreadyExists("index '" + spec.name + "' already exists");
  }
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx,
                        MakeIndex(spec, next_index_id_, std::move(q), 0));
  SKEG_RETURN_IF_ERROR(WriteCatalog(*idx, qbytes));
  ++next_index_id_;
  indexes_[spec.name] = std::move(idx);
  return Status::Ok();
}

Status Collection::Drop(std::string_view name) {
  std::shared_ptr<Index> idx;
  std::unique_lock<std::mutex> write_lock;
  {
    std::unique_lock lock(mu_);
    auto it = indexes_.find(name);
    if (it == indexes_.end()) return UnknownIndex(name);
    idx = it->second;
    write_lock = std::unique_lock(idx->write_mu);
    WriteBatch batch;
    batch.Delete(records::CatalogKey(name), KeySpace::kCatalog);
    SKEG_RETURN_IF_ERROR(Write(batch).status());
    idx->dropped = true;
    indexes_.erase(it);
  }
  // The catalog record is gone, so from here the index is dropped even across a crash; its
  // vector records are removed in chunks (the next Open() removes any that remain).
  if (idx->disk) {
    write_lock.unlock();
    return idx->disk->Drop();
  }
  const std::vector<uint64_t> ids = idx->flat->LiveIds();
  char key[records::kVectorKeyBytes];
  for (size_t i = 0; i < ids.size(); i += kDeleteChunk) {
    WriteBatch batch;
    for (size_t j = i; j < std::min(ids.size(), i + kDeleteChunk); ++j) {
      records::VectorKey(idx->index_id, ids[j], key);
      batch.Delete(std::string_view(key, sizeof(key)), KeySpace::kVector);
    }
    SKEG_RETURN_IF_ERROR(Write(batch).status());
  }
  return Status::Ok();
}

IndexInfo Collection::InfoOf(const Index& idx) const {
  IndexInfo info;
  info.spec = idx.spec;
  if (idx.disk) {
    idx.disk->FillInfo(&info);
    return info;
  }
  info.n_vectors = idx.flat->size();
  info.deleted = idx.flat->deleted();
  info.ram_bytes = idx.flat->MemoryUsage();
  info.disk_bytes = info.n_vectors * (kRecordOverheadBytes + uint64_t{idx.spec.dim} * 4) +
                    idx.flat->payload_bytes();
  info.trained = !idx.flat->awaiting_training();
  info.train_rows = idx.train_rows;
  info.rerank_candidates_per_k = idx.flat->exact_mode() ? 0 : idx.flat->rerank_multiplier();
  return info;
}

std::vector<IndexInfo> Collection::List() const {
  std::vector<std::shared_ptr<Index>> all;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, idx] : indexes_) all.push_back(idx);
  }
  std::vector<IndexInfo> out;
  out.reserve(all.size());
  for (const auto& idx : all) out.push_back(InfoOf(*idx));
  return out;
}

Result<IndexInfo> Collection::Info(std::string_view name) const {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  return InfoOf(*idx);
}

size_t Collection::index_count() const {
  std::shared_lock lock(mu_);
  return indexes_.size();
}

uint64_t Collection::vector_count() const {
  std::shared_lock lock(mu_);
  uint64_t n = 0;
  for (const auto& [name, idx] : indexes_) n += idx->disk ? idx->disk->size() : idx->flat->size();
  return n;
}

size_t Collection::MemoryUsage() const {
  std::shared_lock lock(mu_);
  size_t bytes = sizeof(*this);
  for (const auto& [name, idx] : indexes_) {
    bytes += sizeof(Index) + (idx->disk ? idx->disk->MemoryUsage() : idx->flat->MemoryUsage());
  }
  return bytes;
}

// ---- vectors -----------------------------------------------------------------------------

namespace {

Status CheckVectorFor(const IndexSpec& spec, std::span<const float> vec) {
  if (vec.size() != spec.dim) {
    return Status::InvalidArgument("wrong vector dimension: index '" + spec.name + "' has dim " +
                                   std::to_string(spec.dim) + ", got " +
                                   std::to_string(vec.size()));
  }
  for (float x : vec) {
    if (!std::isfinite(x)) return Status::InvalidArgument("vector contains NaN or Inf");
  }
  return Status::Ok();
}

}  // namespace

Status Collection::CheckVector(std::string_view name, std::span<const float> vec) const {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  return CheckVectorFor(idx->spec, vec);
}

Status Collection::Put(std::string_view name, std::span<const VectorWrite> vectors) {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  if (vectors.empty()) return Status::Ok();
  WriteBatch batch;
  std::string value;
  char key[records::kVectorKeyBytes];
  for (const VectorWrite& v : vectors) {
    SKEG_RETURN_IF_ERROR(CheckVectorFor(idx->spec, v.vec));
    if (v.payload.size() > kMaxPayloadBytes) {
      return Status::InvalidArgument("payload exceeds " + std::to_string(kMaxPayloadBytes) +
                                     " bytes");
    }
    if (idx->disk) continue;
    records::VectorKey(idx->index_id, v.id, key);
    records::EncodeVector(v.vec, v.payload, v.attr, &value);
    batch.Put(std::string_view(key, sizeof(key)), value, storage::kNoExpiry, KeySpace::kVector);
  }
  if (idx->disk) {
    if (options_.read_only) return Status::NotSupported("read-only (serve mode)");
    return idx->disk->Put(vectors);
  }
  {
    std::lock_guard lock(idx->write_mu);
    if (idx->dropped) return UnknownIndex(name);
    SKEG_RETURN_IF_ERROR(Write(batch).status());
    for (const VectorWrite& v : vectors) idx->flat->Upsert(v.id, v.vec.data(), v.payload, v.attr);
  }
  // A failed training leaves the index exact (and is retried by the next write): the vectors
  // themselves are written, so the write succeeded.
  MaybeTrain(idx.get()).IgnoreError();
  return Status::Ok();
}

Status Collection::MaybeTrain(Index* idx) {
  if (idx->train_rows == 0 || !idx->flat->awaiting_training() ||
      idx->flat->size() < idx->train_rows) {
    return Status::Ok();
  }
  if (idx->training.exchange(true)) return Status::Ok();  // another writer is training it
  // Train without holding the index's locks: searches and writes go on meanwhile (new vectors
  // are encoded when the trained quantizer is adopted).
  const QuantizerParams params = ParamsFor(options_);
  const std::vector<float> sample = idx->flat->TrainingSample(params.max_train_rows);
  const size_t n = sample.size() / idx->spec.dim;
  Status status;
  Result<std::unique_ptr<Quantizer>> q = MakeQuantizer(static_cast<QuantKind>(idx->spec.kind),
                                                       idx->spec.dim, idx->spec.metric, params);
  if (!q.ok()) {
    status = q.status();
  } else {
    status = (*q)->Train(sample.data(), n);
  }
  if (status.ok()) {
    std::lock_guard lock(idx->write_mu);
    if (!idx->dropped) {
      // Persist first: codes in RAM must always be reproducible from the catalog.
      status = WriteCatalog(*idx, (*q)->Serialize());
      if (status.ok()) status = idx->flat->AdoptTrainedQuantizer(std::move(*q));
    }
  }
  idx->training = false;
  return status;
}

Result<std::optional<std::string>> Collection::Get(std::string_view name, uint64_t id) const {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  if (idx->disk) return idx->disk->Get(id);
  if (!idx->flat->Contains(id)) return std::optional<std::string>();
  char key[records::kVectorKeyBytes];
  records::VectorKey(idx->index_id, id, key);
  Result<storage::ReadResult> r =
      options_.store->Get(std::string_view(key, sizeof(key)), KeySpace::kVector);
  if (r.status().IsNotFound()) return std::optional<std::string>();
  SKEG_RETURN_IF_ERROR(r.status());
  SKEG_ASSIGN_OR_RETURN(records::VectorView v, records::DecodeVector(r->value, idx->spec.dim));
  return std::optional<std::string>(std::string(v.vec, size_t{v.dim} * sizeof(float)));
}

Result<bool> Collection::Delete(std::string_view name, uint64_t id) {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  if (idx->disk) {
    if (options_.read_only) return Status::NotSupported("read-only (serve mode)");
    return idx->disk->Delete(id);
  }
  std::lock_guard lock(idx->write_mu);
  if (idx->dropped) return UnknownIndex(name);
  if (!idx->flat->Contains(id)) return false;
  char key[records::kVectorKeyBytes];
  records::VectorKey(idx->index_id, id, key);
  WriteBatch batch;
  batch.Delete(std::string_view(key, sizeof(key)), KeySpace::kVector);
  SKEG_RETURN_IF_ERROR(Write(batch).status());
  idx->flat->Remove(id);
  return true;
}

Status Collection::Search(std::string_view name, std::span<const float> query,
                          const SearchOptions& options, SearchResult* out) const {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  if (options.k < 1 || options.k > kMaxSearchK) {
    return Status::InvalidArgument("k must be between 1 and " + std::to_string(kMaxSearchK));
  }
  SKEG_RETURN_IF_ERROR(CheckVectorFor(idx->spec, query));
  if (idx->disk) return idx->disk->Search(query, options, out);
  out->payloads.clear();
  SKEG_RETURN_IF_ERROR(
      idx->flat->Search(FlatRequestFor(query, options), idx->source.get(), &out->hits));
  if (!options.with_payload) return Status::Ok();
  // Payloads are not kept in RAM (only their parsed attributes): one read per result.
  std::vector<float> vec(idx->spec.dim);
  FetchedRecord rec;
  for (const SearchHit& hit : out->hits) {
    SKEG_ASSIGN_OR_RETURN(bool found, idx->source->Fetch(hit.id, vec.data(), &rec));
    if (found && !rec.payload.empty()) {
      out->payloads.emplace_back(std::string(rec.payload));
    } else {
      out->payloads.emplace_back();
    }
  }
  return Status::Ok();
}

Status Collection::BulkLoad(std::string_view name, const vamana::RowSource& rows,
                            std::span<const uint64_t> ids, const BulkLoadOptions& options) {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  if (!idx->disk) {
    return Status::InvalidArgument("index '" + idx->spec.name + "' is not a disk index");
  }
  return idx->disk->BulkLoad(rows, ids, options);
}

Status Collection::Consolidate(std::string_view name) {
  SKEG_ASSIGN_OR_RETURN(std::shared_ptr<Index> idx, Find(name));
  if (!idx->disk) return Status::Ok();
  return idx->disk->Merge();
}

}  // namespace skeg::index
