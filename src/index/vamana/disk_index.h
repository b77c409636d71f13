// The SSD-resident Vamana index: one file per graph version, its writer, and the beam-search
// reader. After DiskANN (Subramanya et al. 2019, "DiskANN: Fast Accurate Billion-point Nearest
// Neighbor Search on a Single Node") with the AiSAQ layout (Tatsuno et al. 2024, "AiSAQ:
// All-in-Storage ANNS with Product Quantization for DRAM-free Information Retrieval"): every node
// record holds the node's full-precision vector, its out-edges AND the navigation codes of those
// out-neighbours, so one record read per hop gives the exact distance of the node and approximate
// distances of all its neighbours, and no per-vector state stays in RAM.
//
// File layout (docs/formats/vamana.md has the byte tables; disk_format.h the constants): sector 0
// is the header; then the navigation section (the serialized quantizer and the medoid's code),
// the node records (each in 4 KiB sectors: several per sector when they fit, else one record
// spans whole sectors), the id map (a static B+-tree of 4 KiB pages over sorted (id, node)
// pairs) and the payload section. Every section starts on a sector boundary. Integrity: the
// header, each node record, each id-map page and each payload carry their own CRC32C, checked on
// every read; each section also has a CRC32C over all its bytes (checked at Open for the
// navigation section, by Verify() for the rest).
//
// Record sizes (RoundUp(40 + 4 dim + 4 R + R code + 4, 8)): glove 100-d, R = 64, tq2 codes
// (36 bytes): 3 008 bytes, one node per sector; wordnet 512-d, R = 64, tq2 (132 bytes): 10 800
// bytes, three sectors per node (tq1: 6 704 bytes, two sectors).
//
// Memory. A DiskIndex holds the header, the navigation quantizer, the medoid's code and a pool of
// per-search scratch buffers (sized by the largest l_search / beam_width seen; the I/O part is
// beam_width * sectors_per_node * 4 KiB, e.g. 16 KiB for glove at W = 4): O(1) in the
// number of vectors n (not even the id map's fences are kept: they would grow with n). Records,
// id-map pages and payloads are read through the shared PageCache (which accounts for its own
// bytes); with a null cache every read goes to the file.
//
// I/O. Reads use O_DIRECT when DiskIndexOptions::direct_io is set and the file system supports
// it (tmpfs does not: the file is then read buffered and direct_io() reports false). A page-cache
// miss reads the record's whole sector(s) into aligned scratch and inserts each 4 KiB page; a hit
// copies the bytes out of the cache. The reads of one search round are issued as one batch
// through a per-thread platform::BatchReader (io_uring when available and preferred, else
// pread); both backends give identical results.
//
// Thread-safety: a DiskIndex is immutable after Open. Every const method may run concurrently
// from any number of threads. The writer is a free function with no shared state.
//
// Errors: kCorruption names the file and what failed (node number, id-map page, section); I/O
// errors come from the file layer (kIOError naming the file).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "index/distance/distance.h"
#include "index/quant/quantizer.h"
#include "index/vamana/graph.h"
#include "platform/env.h"
#include "storage/cache/page_cache.h"

namespace skeg::index::vamana {

// Per-node metadata stored in the node record.
struct NodeMeta {
  uint64_t id = 0;             // the external (user) id; unique within one file
  bool has_attr = false;       // whether `attr` is set (ATTR, for RANGE)
  uint64_t attr = 0;           // 0 when !has_attr
  uint32_t payload_bytes = 0;  // length of the node's payload (0: none)
};

// Per-node metadata for the writer (node order).
class NodeMetaSource {
 public:
  virtual ~NodeMetaSource() = default;
  // Fills *meta for node `node` (in [0, n)) and *payload with the node's payload bytes (may be
  // empty). The writer stores payload->size() as the payload length (meta->payload_bytes is
  // ignored on write and reported on read). Called once per node, in increasing node order,
  // from the writing thread. Errors: storage errors (returned by WriteDiskIndex as is).
  [[nodiscard]] virtual Status Meta(size_t node, NodeMeta* meta, std::string* payload) const = 0;
};

struct DiskWriteOptions {
  // The metric the index serves; distances and DiskHit::dist follow it.
  Metric metric = Metric::kCosine;
  // The navigation quantizer (required): trained, with dim() == rows.dim() and metric() ==
  // metric. Its Serialize() bytes go into the file; the file then no longer needs it.
  const Quantizer* nav = nullptr;
  // Progress: phases "encode" (codes of every row) and "write" (node records), units = nodes.
  ProgressFn progress;
};

// Writes one complete index file at `path` from n = rows.size() rows, their graph and their
// metadata. Node i of the file is row i / graph node i / meta node i.
//
// REQUIRES (else kInvalidArgument, nothing left behind): rows.size() == graph.size(); 1 <= dim
// <= kMaxQuantDim; 1 <= graph.degree <= kMaxDiskDegree; graph.neighbors.size() == n * degree;
// counts[i] <= degree and every listed neighbour < n; medoid < n (when n > 0); options.nav set,
// trained, same dim and metric; the record (see docs/formats/vamana.md) at most
// kMaxDiskRecordBytes; external ids unique.
//
// Steps: (1) encodes every row's navigation code once into a temporary in-RAM array of
// n * nav->code_size() bytes (build-time memory, freed on return; e.g. 36 MB for 1M glove rows
// with tq2), reading rows in chunks; (2) streams the node records out in node order through a
// 1 MiB write buffer, writing payloads to their section as they come (the section offsets are
// known up front); (3) sorts the (id, node) pairs (16 bytes per node, build-time RAM) and writes
// the id map; (4) writes the header, fsyncs (SyncMode::kFull) and closes the file. The parent
// directory is NOT synced: the caller makes the name durable (SyncDir) when it publishes the file.
// Memory beyond the two arrays above: one record (O(dim + R * code_size)) plus ~6 MiB of
// buffers (a 4 MiB chunk of rows, two 1 MiB write buffers).
//
// `path` must not exist (kAlreadyExists otherwise). On any error the partial file is removed
// (best effort). Errors: kInvalidArgument (above), kAlreadyExists, errors of rows/meta, storage
// errors (kIOError, kResourceExhausted for ENOSPC).
[[nodiscard]] Status WriteDiskIndex(platform::Env* env, const std::string& path,
                                    const RowSource& rows, const Graph& graph,
                                    const NodeMetaSource& meta, const DiskWriteOptions& options);

// Largest graph degree R a file may have.
inline constexpr uint32_t kMaxDiskDegree = 1024;
// Largest node record (vector + R neighbours + R codes + fixed fields).
inline constexpr size_t kMaxDiskRecordBytes = size_t{16} << 20;
// Largest l_search (and k) a search accepts.
inline constexpr size_t kMaxDiskListSize = 65536;
// beam_width is clamped to [1, kMaxDiskBeamWidth].
inline constexpr uint32_t kMaxDiskBeamWidth = 64;

struct DiskIndexOptions {
  // Cache for records, id-map pages and payloads (shared, not owned; must outlive the index).
  // Null: every read goes to the file.
  storage::PageCache* cache = nullptr;
  // Open the file with O_DIRECT (falls back to buffered where unsupported; see direct_io()).
  bool direct_io = true;
  // Use an io_uring BatchReader for the search rounds when available (else pread).
  bool prefer_io_uring = true;
  // The tenant this index's cached pages are charged to (PageCache::SetOwnerShare).
  uint32_t cache_owner = storage::PageCache::kNoOwner;
};

struct DiskSearchParams {
  size_t k = 10;            // results wanted; 0 returns nothing
  uint32_t l_search = 100;  // candidate list size L (raised to k when smaller)
  uint32_t beam_width = 4;  // W: records read per round (clamped to [1, kMaxDiskBeamWidth])
};

// One result. `dist` is the exact f32 distance in FlatIndex's convention (smaller is nearer):
// squared L2; -<q, x> for inner product; -<q/|q|, x> / |x| (that is, -cos) for cosine.
struct DiskHit {
  uint32_t node = 0;
  uint64_t id = 0;
  float dist = 0;
};

// Decides whether an expanded node may be a result (tombstones, FILTER, RANGE). Rejected nodes
// still guide navigation. Called from the searching thread, only for expanded nodes whose exact
// distance would place them in the current top k (so it may not see every expanded node), and
// at most once per node per search. Must be thread-safe when shared by concurrent searches.
class NodeAcceptor {
 public:
  virtual ~NodeAcceptor() = default;
  virtual bool Accept(uint32_t node, const NodeMeta& meta) const = 0;
};

class DiskIndex {
 public:
  // Opens the index file at `path`: reads and checks the header (magic, version, CRC, field
  // consistency, file size) and the navigation section (CRC, quantizer kind/dim/metric), and
  // takes a fresh file id in options.cache. Cost: two small reads.
  // Errors: kNotFound, kIOError (file layer); kCorruption for a bad or truncated file (the
  // message names the path and the failed check).
  [[nodiscard]] static Result<std::unique_ptr<DiskIndex>> Open(platform::Env* env,
                                                               const std::string& path,
                                                               const DiskIndexOptions& options);

  // Drops this file's pages from the cache (PageCache::EraseFile). REQUIRES: no search or
  // RowSource of this index is running.
  ~DiskIndex();
  DiskIndex(const DiskIndex&) = delete;
  DiskIndex& operator=(const DiskIndex&) = delete;

  size_t size() const { return static_cast<size_t>(n_); }  // n: number of nodes
  size_t dim() const { return dim_; }
  Metric metric() const { return metric_; }
  uint32_t degree() const { return degree_; }  // R
  uint32_t medoid() const { return medoid_; }  // kNoNode when n == 0
  // The navigation quantizer read from the file (valid as long as the index).
  const Quantizer& nav_quantizer() const { return *nav_; }
  // Bytes of the file (a multiple of 4 KiB).
  uint64_t file_bytes() const { return file_bytes_; }
  // Bytes of one node record, and how they sit in sectors (for tools and the docs).
  uint32_t record_bytes() const { return record_bytes_; }
  uint32_t nodes_per_sector() const { return nodes_per_sector_; }  // 1 when records span
  uint32_t sectors_per_node() const { return sectors_per_node_; }  // 1 when records are packed

  // The node holding external id `id`, or kNoNode. A descent of the on-disk id map (one 4 KiB
  // page per level, 1 level up to 340 nodes, 2 up to 173 400, 3 up to 88 million, through the
  // cache). Errors: kCorruption (bad page), I/O errors.
  [[nodiscard]] Result<uint32_t> FindNode(uint64_t id) const;

  // Reads node `node`'s vector (dim() floats, raw as written) into `out`: one record read
  // through the cache. Errors: kInvalidArgument for node >= size(); kCorruption; I/O errors.
  [[nodiscard]] Status ReadVector(uint32_t node, float* out) const;

  // Reads node `node`'s metadata and, when `payload` is not null, its payload (resized to
  // meta->payload_bytes; extra page reads through the cache, CRC-checked).
  // Errors: kInvalidArgument for node >= size(); kCorruption; I/O errors.
  [[nodiscard]] Status ReadMeta(uint32_t node, NodeMeta* meta, std::string* payload) const;

  // Beam search (DiskANN section 3.3 with AiSAQ's in-record codes). A candidate list of up to
  // L = max(l_search, k) nodes ordered by navigation-code distance starts at the medoid (its code
  // is kept in RAM). Each round takes the up to W = beam_width closest unexpanded candidates and
  // reads their records together (one BatchReader::ReadBatch for the round's cache misses); for
  // each record it computes the node's exact f32 distance (a result candidate if `accept` is
  // null or accepts it) and the code distance of every not-yet-seen neighbour from the codes
  // stored in the record, merging them into the list. It stops when every listed candidate is
  // expanded. Roughly L / W + a few rounds, each costing up to W record reads (W * sectors per
  // node sectors on misses).
  //
  // `query`: dim() floats. *out is overwritten with up to k accepted expanded nodes by exact
  // distance, best first (ties by node number); fewer when fewer were accepted. The result is
  // deterministic: identical across threads, I/O backends, cache states and direct_io.
  // Allocation: none once the pooled scratch (one per concurrent search, reused) has seen this
  // L, W and k, and the thread has its BatchReader, except the cache's own page buffers on
  // misses and the growth of *out. Errors: kInvalidArgument (l_search or k > kMaxDiskListSize);
  // kCorruption (bad record: the message names the file and node); I/O errors. On error *out
  // is empty.
  [[nodiscard]] Status Search(const float* query, const DiskSearchParams& params,
                              const NodeAcceptor* accept, std::vector<DiskHit>* out) const;

  // For a merge: the adjacency (degree, medoid, neighbours) of every node, read sequentially in
  // 1 MiB chunks, bypassing the cache. Memory: the Graph (n * (4R + 4) bytes).
  // Errors: kCorruption (bad record or neighbour), I/O errors.
  [[nodiscard]] Result<Graph> LoadGraph() const;

  // The vectors in node order as a RowSource (row i = node i). ReadRows reads the records'
  // sectors directly (bypassing the cache, in chunks of up to 1 MiB per call, CRC-checked); it
  // is thread-safe. The source must not outlive this index.
  std::unique_ptr<RowSource> Rows() const;

  // Reads the whole file sequentially (bypassing the cache) and checks every section CRC, node
  // record CRC, id-map page and payload CRC: a full scrub, for tools and tests.
  // Errors: kCorruption naming the first bad part; I/O errors.
  [[nodiscard]] Status Verify() const;

  // Resident bytes held by this object: header fields, quantizer, medoid code, scratch pool.
  // O(1) in n (grows only with the largest L, W and concurrency seen); the cache reports its own.
  size_t MemoryUsage() const;

  // Counters since Open (relaxed atomics; consistent only when no search runs).
  //   reads, bytes_read: read requests issued to the file and their bytes
  //   cache_hits, cache_misses: 4 KiB pages found / not found in the cache (0 without one)
  struct IoStats {
    uint64_t reads = 0;
    uint64_t bytes_read = 0;
    uint64_t cache_hits = 0;
    uint64_t cache_misses = 0;
  };
  IoStats io_stats() const;

  // "io_uring" or "pread": the backend of the calling thread's BatchReader for this index's
  // prefer_io_uring setting (creating that reader if the thread has none yet).
  std::string_view io_backend() const;
  // Whether the file really is open with O_DIRECT.
  bool direct_io() const;

 private:
  struct Scratch;
  class ScratchLease;
  class DiskRows;
  DiskIndex();

  // Record I/O (disk_index.cc).
  Status ReadRecords(Scratch* s, size_t count) const;
  Status CheckRecord(uint32_t node, const char* rec) const;
  Status ReadPage(uint64_t page_no, char* dst) const;
  Status ReadPayload(uint64_t offset, uint32_t length, uint32_t crc, uint32_t node,
                     std::string* out, Scratch* s) const;
  Status ScanNodes(uint32_t begin, uint32_t end,
                   const std::function<Status(uint32_t node, const char* rec)>& fn) const;
  Status ScanSection(int section) const;
  Status CorruptNode(uint32_t node, std::string_view what) const;
  uint64_t NodePage(uint32_t node) const;
  size_t NodeOffsetInPage(uint32_t node) const;
  std::unique_ptr<Scratch> AcquireScratch() const;
  void ReleaseScratch(std::unique_ptr<Scratch> s) const;

  // Immutable after Open.
  std::string path_;
  std::unique_ptr<platform::File> file_;
  storage::PageCache* cache_ = nullptr;
  uint32_t cache_owner_ = storage::PageCache::kNoOwner;
  uint64_t file_id_ = 0;
  bool prefer_io_uring_ = true;
  Metric metric_ = Metric::kCosine;
  size_t dim_ = 0;
  uint32_t degree_ = 0;
  uint32_t medoid_ = kNoNode;
  uint64_t n_ = 0;
  uint32_t record_bytes_ = 0;
  uint32_t code_bytes_ = 0;
  size_t vector_at_ = 0;  // record field offsets (disk_format.h)
  size_t neighbors_at_ = 0;
  size_t codes_at_ = 0;
  uint32_t nodes_per_sector_ = 1;
  uint32_t sectors_per_node_ = 1;
  uint64_t file_bytes_ = 0;
  uint64_t nodes_page0_ = 0;   // first page of the node section
  uint64_t idmap_page0_ = 0;   // first page of the id map
  uint32_t idmap_levels_ = 0;  // 0 when n == 0; the root is the single page of the top level
  std::vector<uint64_t> idmap_level_start_;  // per level (0 = leaves): first page, relative
  std::vector<uint64_t> idmap_level_pages_;  // per level: number of pages
  uint64_t payload_offset_ = 0;
  uint64_t payload_bytes_ = 0;
  struct SectionRef {
    uint64_t offset = 0, length = 0;
    uint32_t crc = 0;
  };
  std::vector<SectionRef> sections_;
  std::unique_ptr<Quantizer> nav_;
  // Expanded nodes move to their exact distance in the candidate list (false for binary codes,
  // whose Hamming distances are not in the metric's units).
  bool rekey_ = true;
  std::vector<uint8_t> medoid_code_;

  // Scratch pool: one entry per concurrently running call, reused.
  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Scratch>> pool_;

  mutable std::atomic<uint64_t> reads_{0}, bytes_read_{0}, cache_hits_{0}, cache_misses_{0};
};

}  // namespace skeg::index::vamana
