// Private to the Vamana builder (vamana_build.cc, vamana_partition.cc, vamana_merge.cc): the
// build space, the search and prune primitives, the concurrent graph under construction and
// the connectivity repair. Not for other modules; the contracts are in vamana_build.h.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "index/distance/distance.h"
#include "index/quant/quantizer.h"
#include "index/vamana/graph.h"
#include "index/vamana/vamana_build.h"

namespace skeg::index::vamana::internal {

// DiskANN's GRAPH_SLACK_FACTOR: out-lists may grow to 1.3 R before a reverse edge forces a
// prune, which amortises the prune over many reverse edges.
inline uint32_t SlackDegree(uint32_t degree) { return degree + (degree * 3 + 9) / 10; }
// DiskANN's maxc: RobustPrune looks at the nearest kMaxPruneCandidates candidates only.
inline constexpr size_t kMaxPruneCandidates = 750;
// Largest node count (kNoNode is reserved).
inline constexpr uint64_t kMaxNodes = kNoNode - 1;
// Bytes EstimateBuildBytes allows for per-thread scratch.
inline constexpr uint64_t kScratchAllowanceBytes = 4ull << 20;

// An allocator for the build's big, randomly accessed arrays (the rows in build space, the
// out-lists): allocations of at least kHugeAllocBytes are 2 MiB aligned and advised to use
// transparent huge pages, so a build over gigabytes of rows does not pay a TLB miss (and a page
// walk that itself misses the caches) on most distance computations. Smaller ones use operator
// new. Contents are uninitialised, as with std::allocator.
void* AllocateBuildArray(size_t bytes);
void FreeBuildArray(void* p, size_t bytes);
inline constexpr size_t kHugeAllocBytes = 4u << 20;

template <typename T>
struct BuildAllocator {
  using value_type = T;
  BuildAllocator() = default;
  template <typename U>
  BuildAllocator(const BuildAllocator<U>&) {}  // NOLINT(google-explicit-constructor)
  T* allocate(size_t n) { return static_cast<T*>(AllocateBuildArray(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { FreeBuildArray(p, n * sizeof(T)); }
  friend bool operator==(const BuildAllocator&, const BuildAllocator&) { return true; }
};
template <typename T>
using BuildVector = std::vector<T, BuildAllocator<T>>;

// threads, or std::thread::hardware_concurrency() (at least 1) for 0.
uint32_t ResolveThreads(uint32_t threads);

// ---- build space (see vamana_build.h) ---------------------------------------------------------

// A build-space distance: squared L2 (kL2; kCosine on unit vectors) or -dot (kInnerProduct).
struct Distance {
  float (*kernel)(const float*, const float*, size_t);
  size_t dim;
  bool negate;
  float operator()(const float* a, const float* b) const {
    const float v = kernel(a, b, dim);
    return negate ? -v : v;
  }
};

class BuildSpace {
 public:
  BuildSpace(Metric metric, size_t dim) : metric_(metric), dim_(dim) {}
  Metric metric() const { return metric_; }
  size_t dim() const { return dim_; }
  // RobustPrune's occlusion rule: DiskANN's inner-product rule instead of the distance ratio.
  bool inner_product() const { return metric_ == Metric::kInnerProduct; }
  Distance distance() const {
    return inner_product() ? Distance{Kernels().dot_f32, dim_, true}
                           : Distance{Kernels().l2_sqr_f32, dim_, false};
  }
  // Checks count rows (count x dim; `first` = the index of rows[0], for the message) for
  // NaN/Inf. Errors: kInvalidArgument.
  Status Scan(const float* rows, size_t count, uint64_t first) const;
  // Turns count raw rows into build space in place (normalises them for cosine).
  void Convert(float* rows, size_t count) const;

 private:
  Metric metric_;
  size_t dim_;
};

// Reads every row of `src` into out (src.size() x dim) in build space. Errors: Scan's, src's.
Status LoadAllRows(const RowSource& src, const BuildSpace& space, float* out);
// Reads the rows `ids` (ascending) of `src` into out (ids.size() x dim) in build space, one
// ReadRows per run of consecutive ids. Errors: Scan's, src's.
Status LoadRowsById(const RowSource& src, const BuildSpace& space, std::span<const uint32_t> ids,
                    float* out);

// The row of [0, limit) closest (squared L2, whatever the metric) to the centroid of all n
// rows (n x dim); kNoNode when limit == 0.
uint32_t ClosestToCentroid(const float* rows, size_t n, size_t dim, size_t limit);

// ---- search and prune primitives --------------------------------------------------------------

struct Cand {
  float dist;
  uint32_t id;
};
inline bool operator<(const Cand& a, const Cand& b) {
  return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
}

// A set of node ids in [0, n): one bit per node (n / 8 bytes, which stays in L1/L2 for the
// partition sizes a build sees, unlike a hash set or a stamp per node), plus the ids set, so
// Clear() costs what the last search touched.
class VisitedSet {
 public:
  // Sizes the set for ids below n and empties it.
  void Resize(size_t n) {
    words_.assign((n + 63) / 64, 0);
    touched_.clear();
  }
  void Clear() {
    if (touched_.size() > words_.size() / 8) {
      std::fill(words_.begin(), words_.end(), 0);
    } else {
      for (uint32_t id : touched_) words_[id >> 6] = 0;
    }
    touched_.clear();
  }
  // True when id was not in the set (and is now). REQUIRES: id < n.
  bool Insert(uint32_t id) {
    uint64_t& word = words_[id >> 6];
    const uint64_t bit = uint64_t{1} << (id & 63);
    if ((word & bit) != 0) return false;
    word |= bit;
    touched_.push_back(id);
    return true;
  }
  bool Contains(uint32_t id) const { return (words_[id >> 6] >> (id & 63) & 1) != 0; }

 private:
  std::vector<uint64_t> words_;
  std::vector<uint32_t> touched_;
};

// The search list of DiskANN Alg. 1: the best `capacity` candidates seen, sorted by (dist, id),
// each flagged once expanded; Next() yields the nearest unexpanded one.
class CandidateList {
 public:
  void Reset(size_t capacity) {
    capacity_ = std::max<size_t>(capacity, 1);
    items_.resize(capacity_);
    size_ = 0;
    next_ = 0;
  }
  // Keeps c when the list has room or c beats the worst entry. REQUIRES: c.id not present.
  void Insert(Cand c) {
    if (size_ == capacity_ && !(c < items_[size_ - 1].c)) return;
    size_t lo = 0, hi = size_;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (items_[mid].c < c) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    // Shift [lo, last) right by one; when full, the worst entry falls off.
    const size_t last = size_ < capacity_ ? size_ : size_ - 1;
    for (size_t i = last; i > lo; --i) items_[i] = items_[i - 1];
    items_[lo] = {c, false};
    if (size_ < capacity_) ++size_;
    if (lo < next_) next_ = lo;
  }
  bool HasNext() const { return next_ < size_; }
  Cand Next() {
    const Cand c = items_[next_].c;
    items_[next_].expanded = true;
    while (next_ < size_ && items_[next_].expanded) ++next_;
    return c;
  }
  size_t size() const { return size_; }
  const Cand& operator[](size_t i) const { return items_[i].c; }

 private:
  struct Item {
    Cand c;
    bool expanded;
  };
  std::vector<Item> items_;
  size_t capacity_ = 1;
  size_t size_ = 0;
  size_t next_ = 0;
};

// RobustPrune (DiskANN Alg. 2) in DiskANN's progressive form: candidates are taken nearest
// first; a candidate j is occluded at level a once some chosen i has d(p, j) > a * d(i, j)
// (inner product: <i, j> > a * <p, j>, DiskANN's rule for MIPS); the levels run 1, 1.2,
// 1.44, ... up to alpha until `degree` are chosen. pool is sorted by (dist to p, id) with
// distinct ids, rows[i] is pool[i]'s row; out receives the chosen ids nearest first. occl and
// chosen are scratch.
void RobustPrune(std::span<const Cand> pool, std::span<const float* const> rows,
                 const BuildSpace& space, float alpha, uint32_t degree, std::vector<float>* occl,
                 std::vector<uint32_t>* chosen, std::vector<uint32_t>* out);

// Int8 codes of the build-space rows, for the build's greedy search (the candidate list's
// distances); the visited set is then re-ranked with exact f32 distances before RobustPrune, so
// only navigation sees the codes. The codes are those of the project's int8 quantizer
// (index/quant: per-dimension offset and scale over the rows' ranges, asymmetric f32 x u8
// distances), trained on the rows with the build-space metric (squared L2 for L2 and cosine,
// whose build-space rows are normalised; -<q, x> for inner product): a code is dim bytes, a
// quarter of the row, which is what a build over gigabytes of rows is bound by (each distance
// reads a row from DRAM).
// Thread-safety: const methods may run concurrently once Build() returned (one QueryContext per
// thread).
class SearchCodes {
 public:
  // Trains the quantizer on the n x dim rows and encodes them on `threads` threads: n * dim
  // bytes held.
  void Build(const float* rows, size_t n, const BuildSpace& space, uint32_t threads);
  bool empty() const { return codes_.empty(); }
  const uint8_t* Code(uint32_t node) const { return codes_.data() + size_t{node} * dim_; }
  // A context for PrepareQuery/Distance, sized once. REQUIRES: !empty().
  QueryContext NewQueryContext() const { return quantizer_->NewQueryContext(); }
  // Prepares `ctx` for the query q (dim floats, build space). REQUIRES: !empty().
  void PrepareQuery(const float* q, QueryContext* ctx) const { quantizer_->PrepareQuery(q, ctx); }
  // The approximate build-space distance of the prepared query to `node`.
  float Distance(const QueryContext& ctx, uint32_t node) const {
    return quantizer_->Distance(ctx, Code(node));
  }
  uint64_t MemoryUsage() const {
    return codes_.size() + (quantizer_ ? quantizer_->MemoryUsage() : 0);
  }

 private:
  std::unique_ptr<Quantizer> quantizer_;
  size_t dim_ = 0;
  BuildVector<uint8_t> codes_;  // n x dim
};

// Prefetches [p, p + bytes) into the caches.
inline void PrefetchBytes(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off);
}

// Prefetches the first 512 bytes of a row (the distance kernel streams the rest).
inline void PrefetchRow(const float* row, size_t dim) {
  PrefetchBytes(row, std::min<size_t>(dim * sizeof(float), 512));
}

// ---- threads and progress ----------------------------------------------------------------------

// Runs fn(thread, begin, end) over [0, count) in chunks of `chunk` on up to `threads` threads
// (thread 0 is the caller's), handing chunks out in order.
template <typename Fn>
void ParallelFor(size_t count, uint32_t threads, size_t chunk, Fn&& fn) {
  if (count == 0) return;
  chunk = std::max<size_t>(chunk, 1);
  const size_t chunks = (count + chunk - 1) / chunk;
  const uint32_t used = static_cast<uint32_t>(std::min<size_t>(std::max(threads, 1u), chunks));
  std::atomic<size_t> next{0};
  auto work = [&](uint32_t t) {
    for (;;) {
      const size_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= count) break;
      fn(t, begin, std::min(count, begin + chunk));
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(used - 1);
  for (uint32_t t = 1; t < used; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& th : pool) th.join();
}

// Reports `phase` progress to a ProgressFn at most every kStep units (and at the end),
// serialised, never going backwards.
class Progress {
 public:
  static constexpr uint64_t kStep = 4096;
  Progress(const ProgressFn& fn, std::string_view phase, uint64_t total)
      : fn_(fn), phase_(phase), total_(total) {}
  void Add(uint64_t units);

 private:
  const ProgressFn& fn_;
  std::string_view phase_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  uint64_t reported_ = 0;  // guarded by mu_
};

// ---- the graph under construction ---------------------------------------------------------------

// Per-thread scratch of GraphBuilder; reused across nodes so the build does not allocate per
// candidate.
struct Scratch {
  VisitedSet visited;
  CandidateList list;
  std::vector<Cand> expanded;
  std::vector<uint32_t> nbrs;
  std::vector<uint32_t> fresh;
  std::vector<Cand> pool;
  std::vector<const float*> ptrs;
  std::vector<float> occl;
  std::vector<uint32_t> chosen;
  std::vector<uint32_t> pruned;
  std::vector<uint32_t> rev_ids;
  std::vector<uint32_t> rev_out;
  QueryContext codes_ctx;  // SearchCodes' prepared query (sized by GraphBuilder)
};

// A Vamana graph being built over n rows in build space (not owned; n x dim), with out-lists of up
// to SlackDegree(R) entries guarded by striped locks, so InsertNode may run on many threads.
// Concurrent updates of one list may lose an edge added in between (DiskANN accepts the same
// race); with one thread the result is deterministic.
class GraphBuilder {
 public:
  // With int8_search, the search runs on SearchCodes built here (n * dim bytes more).
  GraphBuilder(const float* rows, size_t n, const BuildSpace& space, uint32_t degree,
               uint32_t build_list, uint32_t threads, bool int8_search);
  GraphBuilder(const GraphBuilder&) = delete;
  GraphBuilder& operator=(const GraphBuilder&) = delete;

  size_t size() const { return counts_.size(); }
  uint32_t threads() const { return threads_; }
  uint32_t medoid() const { return medoid_; }
  void set_medoid(uint32_t m) { medoid_ = m; }
  const float* Row(uint32_t node) const { return rows_ + size_t{node} * dim_; }

  // Sets node's list without locking (setup, or one thread per node). REQUIRES: ids.size() <=
  // SlackDegree(R), distinct, no node.
  void SetList(uint32_t node, std::span<const uint32_t> ids);

  // One Vamana pass: InsertNode(order[i], alpha) for every i, on threads() threads.
  void RunPass(std::span<const uint32_t> order, float alpha, Progress* progress);
  // Searches for p from the medoid, sets p's list to RobustPrune(visited + list) and adds the
  // reverse edges (DiskANN Alg. 3 loop body).
  void InsertNode(uint32_t p, float alpha, Scratch* s);
  // RobustPrune(node, ids, alpha, R) into *out; ids may hold duplicates and node itself.
  void PruneIds(uint32_t node, std::span<const uint32_t> ids, float alpha, Scratch* s,
                std::vector<uint32_t>* out) const;
  // Prunes every list longer than R back to R (in parallel).
  void PruneToDegree(float alpha);
  // Compacts the lists into a Graph of degree R (medoid set); the builder is empty afterwards.
  Graph TakeGraph();

  std::vector<Scratch>& scratch() { return scratch_; }

 private:
  uint32_t* List(uint32_t node) { return adj_.data() + size_t{node} * cap_; }
  std::mutex& Lock(uint32_t node) const { return locks_[node & (kStripes - 1)]; }
  void CopyList(uint32_t node, std::vector<uint32_t>* out) const;
  void SetListLocked(uint32_t node, std::span<const uint32_t> ids);
  void Search(const float* query, Scratch* s) const;
  void AddReverse(uint32_t j, uint32_t p, float alpha, Scratch* s);

  static constexpr size_t kStripes = 4096;

  const float* rows_;
  BuildSpace space_;
  Distance dist_;
  size_t dim_;
  uint32_t degree_;
  uint32_t cap_;
  uint32_t build_list_;
  uint32_t threads_;
  uint32_t medoid_ = kNoNode;
  std::vector<uint32_t> adj_;     // n x cap_, guarded by Lock(node)
  std::vector<uint32_t> counts_;  // guarded by Lock(node)
  std::unique_ptr<std::mutex[]> locks_;
  SearchCodes codes_;  // empty without int8_search
  std::vector<Scratch> scratch_;
};

// Random permutation of [0, n) (Fisher-Yates with splitmix64 from seed).
std::vector<uint32_t> RandomOrder(size_t n, uint64_t seed);

// Makes every node of *g reachable from g->medoid without exceeding g->degree (see BuildGraph
// in vamana_build.h). Returns the number of nodes linked in. REQUIRES: no duplicate edges.
size_t FixConnectivity(Graph* g);

// The in-RAM build of rows already in build space (n x dim floats): medoid, two passes,
// prune to R, compaction. Progress goes to p1/p2 (either may be null). When `release` is set
// (the vector holding rows) it is freed before the compaction. Connectivity is not fixed.
Graph BuildInRam(const float* rows, size_t n, const BuildSpace& space, const BuildParams& params,
                 uint32_t threads, Progress* p1, Progress* p2,
                 BuildVector<float>* release = nullptr);

// The most rows one partition of the partitioned build may hold under `budget` (0 when the
// budget cannot hold the scratch allowance): partitions cover every row twice, so a build
// of n rows uses at least 2n / MaxPartitionRows(...) partitions.
size_t MaxPartitionRows(uint64_t budget, size_t dim, uint32_t degree, bool int8_search = true);

// The partitioned build (vamana_partition.cc). REQUIRES: params validated, budget set.
Result<Graph> BuildPartitioned(const RowSource& rows, Metric metric, const BuildParams& params,
                               const ProgressFn& progress);

}  // namespace skeg::index::vamana::internal
