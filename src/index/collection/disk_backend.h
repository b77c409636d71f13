// DiskBackend: one disk (Vamana on SSD) vector index of a Collection — the graph version in
// effect, the in-RAM delta of unmerged writes, tombstones, and the merge that folds them into a
// new graph version (FreshDiskANN, Singh et al. 2021: a RAM delta searched by brute force plus
// delete tombstones, folded by StreamingMerge into a new on-SSD graph while queries continue).
// Private to index/collection; Collection routes a disk index's calls here.
//
// State and where it lives:
//   graph version   indexes/<index id>/v<N>.vam, one file written by vamana::WriteDiskIndex and
//                   read through the page cache (vamana::DiskIndex). The catalog record names N
//                   (0: no graph yet). Everything that grows with the number of vectors (vectors,
//                   graph, navigation codes, id map, payloads) is in that file.
//   tombstone bits  one bit per graph node, in RAM: the node's id was deleted or superseded by a
//                   newer vector in the delta (the only RAM that grows with the graph: n / 8
//                   bytes).
//   pending records value-log records (vector key space) of writes not yet in the graph: a
//                   vector record per inserted/replaced id (also held in the delta), a tombstone
//                   record per deleted id that the graph holds. Their key-directory entries and the
//                   `pending_` map (about 48 bytes per entry) exist only until a merge folds them.
//   delta           FlatIndex of kind f32 (exact, brute force) over the pending vectors; bounded
//                   by CollectionOptions::delta_merge_bytes (a merge starts at that size, writers
//                   wait at twice that size).
//
// Merge (Merge(), SKEG.VINDEX.CONSOLIDATE, or the collection's merge thread): snapshot the
// pending entries and tombstone bits, read the pending vectors from the value log, run
// vamana::StreamingMerge (delete phase, insert phase) or, without a graph, vamana::BuildGraph,
// write v<N+1>.vam.tmp, fsync, rename, fsync the directory; then one value-log batch, synced,
// replaces the catalog record (version N+1) and deletes the folded pending records — the commit
// point. A crash before it leaves version N and every pending record (the orphan file is removed
// at the next open); after it, version N+1 holds what the deleted records held. Writes that
// arrived during the merge stay pending (a per-entry stamp says which records were folded) and
// tombstone their ids in the new graph. The RAM switch (graph pointer, tombstone bits, delta
// entries) happens under a short exclusive lock that searches otherwise hold shared.
//
// Thread-safety: all methods are thread-safe. Searches and Gets run concurrently with each other
// and with writes; writes serialize on write_mu_; merges serialize on merge_mu_ and run alongside
// searches and writes except for the commit's critical section.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "index/collection/collection.h"
#include "index/collection/records.h"
#include "index/flat/flat.h"
#include "index/vamana/disk_index.h"
#include "index/vamana/vamana_build.h"

namespace skeg::index {

// The flat scan's request for `query` with the options' k, FILTER and RANGE.
FlatSearchRequest FlatRequestFor(std::span<const float> query, const SearchOptions& options);

struct DiskBackendConfig {
  storage::Store* store = nullptr;
  BatchWriter write;  // client writes (durability tiers, deferred acks)
  platform::Env* env = nullptr;
  std::string dir;  // indexes/<index id>
  vamana::DiskIndexOptions disk;
  vamana::BuildParams build;
  uint32_t l_search = 150;
  uint32_t beam_width = 4;
  uint64_t delta_merge_bytes = 16u << 20;
  QuantKind nav_kind = QuantKind::kTq2;
  QuantizerParams quantizer_params;
  bool read_only = false;
};

class DiskBackend {
 public:
  // Opens graph version `version` (0: none yet) of the index. Errors: kCorruption / I/O errors
  // of the index file (a missing file for a version the catalog names is kCorruption).
  static Result<std::unique_ptr<DiskBackend>> Open(DiskBackendConfig config, const IndexSpec& spec,
                                                   uint64_t index_id, uint64_t version);
  ~DiskBackend();
  DiskBackend(const DiskBackend&) = delete;
  DiskBackend& operator=(const DiskBackend&) = delete;

  // Open-time replay of one pending record (vector or tombstone), in any order.
  [[nodiscard]] Status Replay(uint64_t id, const records::VectorView& record);
  // Removes files of versions other than the one in effect (interrupted merges).
  void RemoveStaleFiles();

  // Writes (validated by the caller) as one batch. Waits while the delta is full.
  [[nodiscard]] Status Put(std::span<const VectorWrite> vectors);
  Result<bool> Delete(uint64_t id);
  Result<std::optional<std::string>> Get(uint64_t id) const;
  [[nodiscard]] Status Search(std::span<const float> query, const SearchOptions& options,
                              SearchResult* out) const;

  // True when the delta or the pending tombstones are large enough for a background merge.
  bool NeedsMerge() const;
  // Folds every pending write into a new graph version (see the file comment). A no-op when
  // nothing is pending.
  [[nodiscard]] Status Merge();
  // First graph version from `rows` (index must be empty). See Collection::BulkLoad.
  [[nodiscard]] Status BulkLoad(const vamana::RowSource& rows, std::span<const uint64_t> ids,
                                const BulkLoadOptions& options);
  // Marks the index dropped (later writes fail with kNotFound), deletes its pending records and
  // its directory. Called after the catalog record is gone.
  [[nodiscard]] Status Drop();

  void FillInfo(IndexInfo* info) const;
  uint64_t size() const;
  size_t MemoryUsage() const;
  // Called when a write makes NeedsMerge() true (wakes the merge thread).
  void set_merge_hint(std::function<void()> hint) { merge_hint_ = std::move(hint); }

 private:
  struct GraphVersion;
  struct Pending {
    uint64_t stamp = 0;
    bool tombstone = false;
  };
  struct Snapshot;

  DiskBackend(DiskBackendConfig config, const IndexSpec& spec, uint64_t index_id);
  std::string VersionPath(uint64_t version) const;
  std::shared_ptr<GraphVersion> graph() const;
  Result<std::shared_ptr<GraphVersion>> OpenVersion(uint64_t version) const;
  Result<std::unique_ptr<Quantizer>> NewNavQuantizer(const vamana::RowSource& sample) const;
  Status WriteVersion(uint64_t version, const vamana::RowSource& rows, const vamana::Graph& graph,
                      const vamana::NodeMetaSource& meta, const Quantizer& nav,
                      const vamana::ProgressFn& progress) const;
  // The commit: catalog record + deletes of folded records, synced; then the RAM switch.
  Status Commit(const Snapshot& snap, std::shared_ptr<GraphVersion> next, const Quantizer& nav);
  std::string CatalogValue(uint64_t version, const Quantizer& nav) const;
  uint64_t DeltaBytes() const;

  const DiskBackendConfig config_;
  const IndexSpec spec_;
  const uint64_t index_id_;
  std::function<void()> merge_hint_;

  // Searches and Gets hold it shared; the merge commit holds it exclusively.
  mutable std::shared_mutex swap_mu_;
  mutable std::mutex graph_mu_;            // guards graph_ (the pointer)
  std::shared_ptr<GraphVersion> graph_;    // never null (version 0: no index)
  std::unique_ptr<FlatIndex> delta_;       // internally synchronized
  std::unique_ptr<VectorSource> records_;  // reads pending vector records

  mutable std::mutex write_mu_;  // writers and the commit
  std::condition_variable space_cv_;
  std::unordered_map<uint64_t, Pending> pending_;  // guarded by write_mu_
  uint64_t next_stamp_ = 1;                        // guarded by write_mu_
  std::atomic<uint64_t> pending_tombstones_{0};
  bool dropped_ = false;  // guarded by write_mu_
  bool merging_ = false;  // guarded by write_mu_: a merge has taken its snapshot
  Status last_merge_;     // guarded by write_mu_

  std::mutex merge_mu_;  // one merge at a time
  std::atomic<uint64_t> merges_{0};
};

}  // namespace skeg::index
