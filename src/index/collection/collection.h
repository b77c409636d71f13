// Collection: the vector indexes of one server, their catalog and their durable records. The
// API the server's vector commands call (SKEG.VINDEX.*, SKEG.VSET/VMSET/VGET/VDEL/VSEARCH and
// the native vector ops).
//
// Persistence. Everything lives in the value log (storage/vlog), in its two internal key spaces
// (docs/formats/vectors.md has the byte tables):
//   catalog space  one record per index, key "idx:" + name: kind, backend, metric, dim, a
//                  numeric index id, build parameters and the serialized quantizer (trained
//                  parameters included, so a restart re-encodes every vector bit for bit).
//   vector space   one record per vector, key = [u64 index id][u64 vector id] (big-endian),
//                  value = version, flags, dim, attr, the f32 vector and the payload.
// Writes go through CollectionOptions::write (the server's Engine::Write, so durability tiers,
// deferred acknowledgements and WAIT_DURABLE apply); a VMSET is one WriteBatch, so after a
// crash all of its vectors are present or none. Open() rebuilds every index from its records
// (one Store::ForEachKey over the vector space, then one Store::Get per vector, in id order),
// removes the records of indexes whose drop was interrupted, and trains quantizers that reached
// their training threshold without a persisted training.
//
// Backends. `flat` is index/flat (codes in RAM, exact re-rank reading vector records). `disk`
// (Vamana on SSD) is accepted at create time and stored as such, but served by the flat path
// until that backend exists; Info() says so.
//
// Training. int8 (min/max scales) and pq (k-means) learn from data; until an index holds
// their training threshold (CollectionOptions) it stays in exact mode (f32 rows in RAM, exact
// search). The write that reaches the threshold trains on the index's vectors (up to the
// quantizer's max_train_rows, insertion order; at open: id order) without holding the index's
// locks, persists the trained quantizer in the catalog record, then switches the index to codes.
//
// Limits: dim 1..kMaxVectorDim (and what the kind accepts, CheckQuantizerDim), k 1..kMaxSearchK,
// payload at most kMaxPayloadBytes, finite vector components, names per ValidateIndexName.
//
// Errors (Status codes; the message is the user-facing text after the "ERR " prefix):
// kNotFound "unknown index '<name>'"; kAlreadyExists "index '<name>' already exists";
// kInvalidArgument for bad names, dims, kinds, vectors, k; storage errors unchanged.
//
// Thread-safety: every method is thread-safe. Searches run concurrently with each other and
// with writes; writes to one index are serialized (a per-index writer mutex, held across the
// value-log write so RAM applies in log order); create and drop serialize on the catalog.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "index/distance/distance.h"
#include "index/filter/filter.h"
#include "index/flat/flat.h"
#include "index/quant/quantizer.h"
#include "index/vamana/graph.h"
#include "platform/env.h"
#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"

namespace skeg::index {

// Index kinds, numbered as the native protocol's kind byte.
enum class VectorKind : uint8_t {
  kF32 = 0,
  kInt8 = 1,
  kBinary = 2,
  kTq1 = 3,
  kTq2 = 4,
  kTq4 = 5,
  kPq = 6
};
// Backends, numbered as the native protocol's backend byte.
enum class Backend : uint8_t { kFlat = 0, kDisk = 1 };

// "f32", "int8", ... / "flat", "disk".
std::string_view VectorKindName(VectorKind kind);
std::string_view BackendName(Backend backend);
// Case-insensitive. Errors: kInvalidArgument "unknown kind 'x' (expected f32, int8, binary,
// tq1, tq2, tq4 or pq)" / "unknown backend 'x' (expected flat or disk)".
Result<VectorKind> ParseVectorKind(std::string_view name);
Result<Backend> ParseBackend(std::string_view name);

inline constexpr size_t kMaxIndexNameBytes = 255;
inline constexpr size_t kMaxVectorDim = 4096;
inline constexpr size_t kMaxSearchK = 10000;
inline constexpr size_t kMaxPayloadBytes = 1 << 20;

// 1-255 bytes of [A-Za-z0-9._-], not "." or "..", no ".." inside, no "::". Errors:
// kInvalidArgument with the rule broken, e.g. "bad index name '../x': must not contain '..'".
Status ValidateIndexName(std::string_view name);

// What an index is created with.
struct IndexSpec {
  std::string name;
  uint32_t dim = 0;
  VectorKind kind = VectorKind::kTq2;
  Backend backend = Backend::kFlat;
  Metric metric = Metric::kCosine;
  // Graph build parameters, stored for the Vamana backend (unused by flat): degree R (`M`),
  // build list L (`EF_CONSTRUCTION`), RobustPrune alpha.
  uint32_t m = 64;
  uint32_t ef_construction = 128;
  float alpha = 1.2f;

  // Name, dim range, kind-specific dim (CheckQuantizerDim), M 1..1024, EF_CONSTRUCTION
  // 1..65536, alpha in [1, 16]. Errors: kInvalidArgument with the user-facing reason.
  Status Validate() const;
};

// Index statistics (SKEG.VINDEX.INFO / LIST).
struct IndexInfo {
  IndexSpec spec;
  uint64_t n_vectors = 0;
  uint64_t deleted = 0;     // free slots left by deletes (reused by inserts)
  uint64_t ram_bytes = 0;   // FlatIndex::MemoryUsage()
  uint64_t disk_bytes = 0;  // bytes of the live vector records in the value log
  bool trained = true;      // false while an int8/pq index is below its training threshold
  uint64_t train_rows = 0;  // the training threshold (0: the kind needs none)
  size_t rerank_candidates_per_k = 0;  // re-ranked candidates per requested result (0: exact)
  // Disk backend: writes not yet merged into the graph (delta vectors + tombstones), the graph
  // version in effect (0: none yet) and its node count (deleted nodes included).
  uint64_t pending = 0;
  uint64_t graph_version = 0;
  uint64_t graph_nodes = 0;
};

// One vector of a Put. Views must stay valid during the call.
struct VectorWrite {
  uint64_t id = 0;
  std::span<const float> vec;
  std::string_view payload;  // empty: none
  std::optional<uint64_t> attr;
};

struct SearchOptions {
  size_t k = 10;
  const Filter* filter = nullptr;
  bool has_range = false;
  uint64_t range_lo = 0;
  uint64_t range_hi = 0;
  bool with_payload = false;
  // Disk backend: the beam search's list size (0: CollectionOptions::l_search) and beam width
  // (0: CollectionOptions::beam_width). Flat indexes ignore both.
  uint32_t l_search = 0;
  uint32_t beam_width = 0;
};

struct SearchResult {
  std::vector<SearchHit> hits;                       // best first
  std::vector<std::optional<std::string>> payloads;  // with_payload: one per hit
};

// Writes a batch durably (the server passes Engine::Write). Must be thread-safe.
using BatchWriter = std::function<Result<uint32_t>(const storage::WriteBatch&)>;

struct CollectionOptions {
  storage::Store* store = nullptr;  // required; must outlive the Collection
  BatchWriter write;                // null: store->Write with default options
  // Training thresholds: an int8 / pq index trains once it holds this many vectors.
  size_t int8_train_rows = 4096;
  size_t pq_train_rows = 10000;
  // Re-ranked candidates per requested result, by kind (docs/vectors.md has the measured
  // recall behind these defaults).
  size_t rerank_int8 = 10;
  size_t rerank_binary = 40;
  size_t rerank_tq1 = 40;
  size_t rerank_tq2 = 20;
  size_t rerank_tq4 = 10;
  size_t rerank_pq = 20;

  // ---- disk backend (Vamana on SSD) ----
  platform::Env* env = nullptr;         // null: platform::Env::Default()
  std::string index_dir;                // DIR/indexes; one subdirectory per disk index
  storage::PageCache* cache = nullptr;  // the server's page cache (null: uncached reads)
  bool direct_io = true;                // O_DIRECT index reads where the filesystem allows
  bool prefer_io_uring = true;          // batch reads through io_uring when available
  // Navigation code of disk indexes created with kind f32 (the server's --tier).
  QuantKind default_tier = QuantKind::kTq2;
  uint64_t build_memory_bytes = 0;  // 0: the builder's default (vamana::BuildParams)
  uint32_t build_threads = 0;       // 0: all cores
  uint32_t l_search = 150;          // default beam-search list size (docs/vectors.md: recall)
  uint32_t beam_width = 4;          // default beam width W
  // The in-RAM delta of unmerged inserts: a background merge starts when it holds this many
  // bytes; writers wait while it holds twice as many (the bound on its RAM).
  uint64_t delta_merge_bytes = 16u << 20;
  // Start the background merge thread (tests turn it off and call Consolidate()).
  bool background_merge = true;
  // Read-only (serve mode): no merge thread, no training writes, writes are refused.
  bool read_only = false;

  Status Validate() const;
};

// Options of Collection::BulkLoad (the offline builder, `skeg build`).
struct BulkLoadOptions {
  vamana::ProgressFn progress;  // build and write progress; may be null
};

// What Open() found (logged by the server).
struct CollectionOpenInfo {
  size_t indexes = 0;
  uint64_t vectors = 0;  // live vectors after the open (graph-resident ones included)
  uint64_t orphan_records_removed = 0;  // records of indexes whose drop was interrupted
  size_t trained_at_open = 0;
  double seconds = 0;
};

class Collection {
 public:
  // Loads the catalog and rebuilds every index from its vector records (see the file comment).
  // Errors: kCorruption for a catalog or vector record that does not decode; storage errors.
  static Result<std::unique_ptr<Collection>> Open(const CollectionOptions& options);
  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  const CollectionOpenInfo& open_info() const { return open_info_; }

  // Creates an index (one catalog record). Errors: Validate()'s, kAlreadyExists.
  [[nodiscard]] Status Create(const IndexSpec& spec);
  // Drops an index: its catalog record, then its vector records (in batches of 4096; an
  // interrupted drop is finished by the next Open()). Errors: kNotFound.
  [[nodiscard]] Status Drop(std::string_view name);
  // Every index, sorted by name.
  std::vector<IndexInfo> List() const;
  Result<IndexInfo> Info(std::string_view name) const;

  // Inserts or replaces vectors as one atomic WriteBatch. All are validated first (dimension,
  // finite components, payload size); nothing is written when one is bad. Errors: kNotFound,
  // kInvalidArgument ("wrong vector dimension: index 'x' has dim 100, got 99", "vector
  // contains NaN or Inf", "payload exceeds 1048576 bytes").
  [[nodiscard]] Status Put(std::string_view name, std::span<const VectorWrite> vectors);
  // The stored f32 vector (dim * 4 little-endian bytes), or nullopt for an absent id.
  Result<std::optional<std::string>> Get(std::string_view name, uint64_t id) const;
  // Deletes one vector; false when absent.
  Result<bool> Delete(std::string_view name, uint64_t id);
  // The k best vectors for `query` (dim floats) with exact scores. *out is overwritten (its
  // buffers are reused). Errors: kNotFound, kInvalidArgument (dimension, NaN/Inf, k outside
  // 1..kMaxSearchK), storage errors.
  [[nodiscard]] Status Search(std::string_view name, std::span<const float> query,
                              const SearchOptions& options, SearchResult* out) const;

  // Builds the first graph version of an empty disk index from `rows` in one pass (no value-log
  // records, no delta): ids[i] is the id of row i (empty: ids 0..n-1; must be distinct). Used by
  // `skeg build`. Uses the options' build memory budget and threads. Errors: kNotFound,
  // kInvalidArgument (not a disk index, not empty, dim mismatch, duplicate ids, non-finite
  // components), storage errors.
  [[nodiscard]] Status BulkLoad(std::string_view name, const vamana::RowSource& rows,
                                std::span<const uint64_t> ids, const BulkLoadOptions& options);

  // Disk indexes: merges the pending inserts and deletes into a new graph version now
  // (SKEG.VINDEX.CONSOLIDATE); returns when the new version is visible. Flat indexes: no-op.
  // Errors: kNotFound, storage errors.
  [[nodiscard]] Status Consolidate(std::string_view name);

  // Checks `vec` against the index's dimension and for NaN/Inf (the Put/Search checks, for
  // callers that want to fail before doing other work). Errors: as Put.
  [[nodiscard]] Status CheckVector(std::string_view name, std::span<const float> vec) const;

  size_t index_count() const;
  uint64_t vector_count() const;
  // RAM of every index.
  size_t MemoryUsage() const;

  struct Index;

 private:
  explicit Collection(const CollectionOptions& options);
  Status Load();
  Result<std::shared_ptr<Index>> Find(std::string_view name) const;
  Result<std::shared_ptr<Index>> MakeIndex(const IndexSpec& spec, uint64_t index_id,
                                           std::unique_ptr<Quantizer> quantizer,
                                           uint64_t graph_version);
  void WakeMerger();
  void MergeLoop();
  Status WriteCatalog(const Index& index, std::string_view quantizer_bytes);
  Status MaybeTrain(Index* index);
  Result<uint32_t> Write(const storage::WriteBatch& batch) const;
  IndexInfo InfoOf(const Index& index) const;

  CollectionOptions options_;
  CollectionOpenInfo open_info_;
  mutable std::shared_mutex mu_;  // guards indexes_ and next_index_id_
  std::map<std::string, std::shared_ptr<Index>, std::less<>> indexes_;
  uint64_t next_index_id_ = 1;

  // The background merge thread (disk indexes; not started read-only or when turned off).
  std::mutex merge_mu_;
  std::condition_variable merge_cv_;
  bool merge_wanted_ = false;  // guarded by merge_mu_
  bool merge_stop_ = false;    // guarded by merge_mu_
  std::thread merger_;
};

}  // namespace skeg::index
