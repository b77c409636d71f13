// BuildGraph's partitioned path (DiskANN, Subramanya et al. NeurIPS 2019, section 3.2): k-means
// on a sample, each row in the partitions of its 2 nearest centroids, one in-RAM build per
// partition, out-lists merged into the final graph (union, then RobustPrune back to R), and the
// reachability repair. Memory outside the budget: the final Graph and the O(n) arrays named in
// vamana_build.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "index/quant/internal/kinds.h"
#include "index/vamana/vamana_build_internal.h"

namespace skeg::index::vamana::internal {
namespace {

constexpr size_t kMinPartitionRows = 256;
constexpr size_t kMaxSampleRows = 50000;
constexpr uint32_t kKMeansIterations = 10;
constexpr int kPartitionAttempts = 4;

// Bytes per row of a partition while it is built and merged: its rows in build space (and their
// search codes), the slack lists with counts and insertion order, visited bitmaps
// (EstimateBuildBytes' 2 bytes), and its compacted graph (which exists before the rows are
// dropped).
uint64_t PartitionRowBytes(size_t dim, uint32_t degree, bool int8_search) {
  return dim * (sizeof(float) + (int8_search ? 1 : 0)) +
         (uint64_t{SlackDegree(degree)} + 2) * sizeof(uint32_t) + 2 +
         (uint64_t{degree} + 1) * sizeof(uint32_t);
}

// Calls fn(first, count, rows) for consecutive blocks of `src`, rows in build space.
template <typename Fn>
Status ForEachBlock(const RowSource& src, const BuildSpace& space, size_t block_rows, Fn&& fn) {
  const size_t n = src.size(), dim = space.dim();
  std::vector<float> block(std::min(n, block_rows) * dim);
  for (size_t begin = 0; begin < n; begin += block_rows) {
    const size_t count = std::min(block_rows, n - begin);
    SKEG_RETURN_IF_ERROR(src.ReadRows(begin, count, block.data()));
    SKEG_RETURN_IF_ERROR(space.Scan(block.data(), count, begin));
    space.Convert(block.data(), count);
    fn(begin, count, static_cast<const float*>(block.data()));
  }
  return Status::Ok();
}

// The partitioning: member lists (ascending node ids per partition), each node's first
// partition, and the medoid.
struct Partitioning {
  size_t k = 0;
  std::vector<uint64_t> offsets;  // k + 1
  std::vector<uint32_t> members;
  std::vector<uint32_t> first;  // per node: its lowest partition
  uint32_t medoid = kNoNode;
};

class Partitioner {
 public:
  Partitioner(const RowSource& rows, const BuildSpace& space, const BuildParams& params,
              size_t max_rows, const ProgressFn& progress)
      : rows_(rows), space_(space), params_(params), max_rows_(max_rows), progress_(progress) {
    const uint64_t block_bytes =
        std::clamp<uint64_t>(params.build_memory_bytes / 16, 64 << 10, 8 << 20);
    block_rows_ = std::max<size_t>(1, block_bytes / (space.dim() * sizeof(float)));
  }

  Result<Partitioning> Run();

 private:
  Status SampleAndCentroid(size_t sample_rows);
  // Assigns every row to its 2 nearest centroids: fills part_ and counts_, and the medoid.
  Status Assign();
  // Splits every partition above max_rows_ into equal chunks (renumbering the partitions), so
  // all fit.
  void SplitOversized();

  const RowSource& rows_;
  const BuildSpace& space_;
  const BuildParams& params_;
  size_t max_rows_;
  const ProgressFn& progress_;
  size_t block_rows_ = 1;
  size_t k_ = 0;
  std::vector<float> sample_;
  std::vector<float> centroid_;   // of all rows
  std::vector<float> centroids_;  // k_ x dim
  std::vector<uint32_t> part_;    // 2 per node
  std::vector<uint64_t> counts_;
  uint32_t medoid_ = kNoNode;
};

Status Partitioner::SampleAndCentroid(size_t sample_rows) {
  const size_t n = rows_.size(), dim = space_.dim();
  // Selection sampling (Knuth, TAOCP vol. 2, Algorithm S): exactly sample_rows rows, ascending.
  ::skeg::index::internal::SplitMix64 rng(params_.seed ^ 0x9a27c0ffeeULL);
  std::vector<uint32_t> picked;
  picked.reserve(sample_rows);
  for (size_t i = 0; i < n && picked.size() < sample_rows; ++i) {
    if (rng.UniformDouble() * double(n - i) < double(sample_rows - picked.size())) {
      picked.push_back(static_cast<uint32_t>(i));
    }
  }
  sample_.resize(picked.size() * dim);
  std::vector<double> sum(dim, 0.0);
  size_t next = 0;
  SKEG_RETURN_IF_ERROR(
      ForEachBlock(rows_, space_, block_rows_, [&](size_t first, size_t count, const float* block) {
        for (size_t r = 0; r < count; ++r) {
          const float* row = block + r * dim;
          for (size_t i = 0; i < dim; ++i) sum[i] += row[i];
          if (next < picked.size() && picked[next] == first + r) {
            std::copy(row, row + dim, sample_.data() + next * dim);
            ++next;
          }
        }
      }));
  centroid_.resize(dim);
  for (size_t i = 0; i < dim; ++i) centroid_[i] = static_cast<float>(sum[i] / double(n));
  return Status::Ok();
}

Status Partitioner::Assign() {
  const size_t n = rows_.size(), dim = space_.dim();
  const auto& kernels = Kernels();
  part_.assign(2 * n, kNoNode);
  counts_.assign(k_, 0);
  std::vector<float> dist(k_);
  float medoid_d = std::numeric_limits<float>::infinity();
  Progress progress(progress_, "partition", n);
  SKEG_RETURN_IF_ERROR(
      ForEachBlock(rows_, space_, block_rows_, [&](size_t first, size_t count, const float* block) {
        for (size_t r = 0; r < count; ++r) {
          const float* row = block + r * dim;
          const size_t node = first + r;
          const float dm = kernels.l2_sqr_f32(row, centroid_.data(), dim);
          if (dm < medoid_d) {
            medoid_d = dm;
            medoid_ = static_cast<uint32_t>(node);
          }
          kernels.l2_sqr_f32_batch(row, centroids_.data(), k_, dim, dist.data());
          // The two nearest centroids, ties to the lower index. REQUIRES k_ >= 2.
          size_t best = dist[1] < dist[0] ? 1 : 0, second = 1 - best;
          for (size_t c = 2; c < k_; ++c) {
            if (dist[c] < dist[best]) {
              second = best;
              best = c;
            } else if (dist[c] < dist[second]) {
              second = c;
            }
          }
          part_[2 * node] = static_cast<uint32_t>(std::min(best, second));
          part_[2 * node + 1] = static_cast<uint32_t>(std::max(best, second));
          ++counts_[best];
          ++counts_[second];
        }
        progress.Add(count);
      }));
  return Status::Ok();
}

void Partitioner::SplitOversized() {
  std::vector<uint64_t> chunks(k_), base(k_ + 1, 0), seen(k_, 0);
  for (size_t c = 0; c < k_; ++c) {
    chunks[c] = std::max<uint64_t>(1, (counts_[c] + max_rows_ - 1) / max_rows_);
    base[c + 1] = base[c] + chunks[c];
  }
  // Members of c are dealt round-robin, so each chunk samples all of c (and chunk sizes differ
  // by at most one). Renumbering keeps each node's pair ordered: base[] grows with c.
  for (uint32_t& p : part_) {
    const uint32_t c = p;
    p = static_cast<uint32_t>(base[c] + seen[c]++ % chunks[c]);
  }
  k_ = base[k_];
  counts_.assign(k_, 0);
  for (uint32_t p : part_) ++counts_[p];
}

Result<Partitioning> Partitioner::Run() {
  const size_t n = rows_.size(), dim = space_.dim();
  // k: partitions of 2n / k rows on average, 20% headroom for k-means' imbalance.
  k_ = std::max<size_t>(2, (2 * n * 10 + 8 * max_rows_ - 1) / (8 * max_rows_));
  const size_t sample_rows = std::min<size_t>(
      {n, kMaxSampleRows, params_.build_memory_bytes / 2 / (dim * sizeof(float) + 8)});
  if (sample_rows < k_) {
    return Status::ResourceExhausted(
        "build_memory_bytes " + std::to_string(params_.build_memory_bytes) + " is too small for " +
        std::to_string(n) + " rows: k-means over " + std::to_string(k_) +
        " partitions needs a bigger sample");
  }
  SKEG_RETURN_IF_ERROR(SampleAndCentroid(sample_rows));
  std::vector<float> first_centroids;
  const size_t first_k = k_;
  uint64_t previous = UINT64_MAX;
  for (int attempt = 0;; ++attempt) {
    centroids_.resize(k_ * dim);
    ::skeg::index::internal::KMeans(sample_.data(), sample_rows, dim, k_, kKMeansIterations,
                                    params_.seed + static_cast<uint64_t>(attempt),
                                    centroids_.data());
    SKEG_RETURN_IF_ERROR(Assign());
    const uint64_t biggest = *std::max_element(counts_.begin(), counts_.end());
    if (biggest <= max_rows_) break;
    if (attempt == 0) first_centroids = centroids_;
    // More partitions help while k-means can split the big ones. Rows that (nearly) coincide
    // cannot be split: when the biggest partition stops shrinking, more partitions would only
    // fragment the rest of the data, so go back to the first k.
    const bool stuck = biggest * 10 > previous * 9;
    previous = biggest;
    const size_t next_k =
        std::min(2 * k_, std::max(k_ + 1, (k_ * biggest + max_rows_ - 1) / max_rows_));
    if (stuck || attempt + 1 == kPartitionAttempts || next_k > sample_rows) {
      if (stuck) {
        k_ = first_k;
        centroids_ = std::move(first_centroids);
        SKEG_RETURN_IF_ERROR(Assign());
      }
      // Last resort: the big partitions are cut into chunks (for rows that coincide, any cut
      // is as good as another).
      SplitOversized();
      break;
    }
    k_ = next_k;
  }
  sample_ = std::vector<float>();  // frees; `= {}` would keep the capacity

  Partitioning out;
  out.k = k_;
  out.medoid = medoid_;
  out.offsets.assign(k_ + 1, 0);
  for (size_t c = 0; c < k_; ++c) out.offsets[c + 1] = out.offsets[c] + counts_[c];
  out.members.resize(out.offsets[k_]);
  out.first.resize(n);
  std::vector<uint64_t> fill(out.offsets.begin(), out.offsets.end() - 1);
  for (size_t node = 0; node < n; ++node) {
    const uint32_t a = part_[2 * node], b = part_[2 * node + 1];
    out.first[node] = a;
    out.members[fill[a]++] = static_cast<uint32_t>(node);
    if (b != a) out.members[fill[b]++] = static_cast<uint32_t>(node);
  }
  return out;
}

struct MergeScratch {
  std::vector<uint32_t> ids;
  std::vector<Cand> pool;
  std::vector<const float*> ptrs;
  std::vector<float> occl;
  std::vector<uint32_t> chosen;
  std::vector<uint32_t> out;
};

// Merges partition `p` (members `mem`, rows `prow` in build space, built graph `gp` over local
// numbers) into `final`: first-time nodes take gp's list; the others RobustPrune the union of
// their list and gp's (DiskANN merges by union; pruning keeps degree <= R). Rows of the union
// outside the partition are read into a halo of at most halo_rows rows at a time.
Status MergePartition(const RowSource& rows, const BuildSpace& space, const BuildParams& params,
                      uint32_t threads, uint32_t p, std::span<const uint32_t> mem,
                      const float* prow, const Graph& gp, const std::vector<uint32_t>& first,
                      const std::vector<uint32_t>& local_of, size_t halo_rows, Graph* final) {
  const size_t dim = space.dim();
  const Distance dist = space.distance();
  std::vector<uint32_t> second;
  std::vector<uint32_t> mapped;
  for (size_t i = 0; i < mem.size(); ++i) {
    if (first[mem[i]] != p) {
      second.push_back(static_cast<uint32_t>(i));
      continue;
    }
    mapped.clear();
    for (uint32_t j : gp.Neighbors(i)) mapped.push_back(mem[j]);
    final->SetNeighbors(mem[i], mapped);
  }

  std::vector<MergeScratch> scratch(std::max(threads, 1u));
  std::vector<uint32_t> halo_ids;
  std::vector<float> halo;
  size_t pos = 0;
  while (pos < second.size()) {
    halo_ids.clear();
    size_t end = pos;
    while (end < second.size()) {
      const uint32_t node = mem[second[end]];
      size_t missing = 0;
      for (uint32_t id : final->Neighbors(node)) missing += local_of[id] == kNoNode ? 1 : 0;
      if (end > pos && halo_ids.size() + missing > halo_rows) break;
      for (uint32_t id : final->Neighbors(node)) {
        if (local_of[id] == kNoNode) halo_ids.push_back(id);
      }
      ++end;
    }
    std::sort(halo_ids.begin(), halo_ids.end());
    halo_ids.erase(std::unique(halo_ids.begin(), halo_ids.end()), halo_ids.end());
    halo.resize(halo_ids.size() * dim);
    SKEG_RETURN_IF_ERROR(LoadRowsById(rows, space, halo_ids, halo.data()));

    auto row_of = [&](uint32_t id) -> const float* {
      const uint32_t local = local_of[id];
      if (local != kNoNode) return prow + size_t{local} * dim;
      const auto it = std::lower_bound(halo_ids.begin(), halo_ids.end(), id);
      SKEG_DCHECK(it != halo_ids.end() && *it == id);
      return halo.data() + static_cast<size_t>(it - halo_ids.begin()) * dim;
    };
    ParallelFor(end - pos, threads, 64, [&](uint32_t t, size_t begin, size_t stop) {
      MergeScratch& s = scratch[t];
      for (size_t x = pos + begin; x < pos + stop; ++x) {
        const uint32_t i = second[x];
        const uint32_t node = mem[i];
        const float* q = prow + size_t{i} * dim;
        s.ids.assign(final->Neighbors(node).begin(), final->Neighbors(node).end());
        for (uint32_t j : gp.Neighbors(i)) s.ids.push_back(mem[j]);
        s.pool.clear();
        for (uint32_t id : s.ids) {
          if (id != node) s.pool.push_back({dist(q, row_of(id)), id});
        }
        std::sort(s.pool.begin(), s.pool.end());
        s.pool.erase(std::unique(s.pool.begin(), s.pool.end(),
                                 [](const Cand& a, const Cand& b) { return a.id == b.id; }),
                     s.pool.end());
        s.ptrs.clear();
        for (const Cand& c : s.pool) s.ptrs.push_back(row_of(c.id));
        RobustPrune(s.pool, s.ptrs, space, params.alpha, params.degree, &s.occl, &s.chosen, &s.out);
        final->SetNeighbors(node, s.out);
      }
    });
    pos = end;
  }
  return Status::Ok();
}

}  // namespace

size_t MaxPartitionRows(uint64_t budget, size_t dim, uint32_t degree, bool int8_search) {
  if (budget <= kScratchAllowanceBytes) return 0;
  return static_cast<size_t>((budget - kScratchAllowanceBytes) /
                             PartitionRowBytes(dim, degree, int8_search));
}

Result<Graph> BuildPartitioned(const RowSource& rows, Metric metric, const BuildParams& params,
                               const ProgressFn& progress) {
  const size_t n = rows.size(), dim = rows.dim();
  const uint32_t threads = ResolveThreads(params.threads);
  const BuildSpace space(metric, dim);
  const uint64_t per_row = PartitionRowBytes(dim, params.degree, params.int8_search);
  const uint64_t budget = params.build_memory_bytes;
  const uint64_t minimum = kScratchAllowanceBytes + kMinPartitionRows * per_row;
  if (budget < minimum) {
    return Status::ResourceExhausted("build_memory_bytes " + std::to_string(budget) +
                                     " is below the minimum " + std::to_string(minimum) +
                                     " for dim " + std::to_string(dim) + " and degree " +
                                     std::to_string(params.degree));
  }
  const size_t max_rows = MaxPartitionRows(budget, dim, params.degree, params.int8_search);

  Partitioning parts;
  {
    Partitioner partitioner(rows, space, params, max_rows, progress);
    SKEG_ASSIGN_OR_RETURN(parts, partitioner.Run());
  }

  Graph final;
  final.Reset(n, params.degree);
  final.medoid = parts.medoid;
  std::vector<uint32_t> local_of(n, kNoNode);
  Progress build_progress(progress, "build partitions", 2 * parts.members.size());
  for (size_t p = 0; p < parts.k; ++p) {
    const std::span<const uint32_t> mem(parts.members.data() + parts.offsets[p],
                                        parts.offsets[p + 1] - parts.offsets[p]);
    if (mem.empty()) continue;
    BuildVector<float> prow(mem.size() * dim);
    SKEG_RETURN_IF_ERROR(LoadRowsById(rows, space, mem, prow.data()));
    BuildParams part_params = params;
    part_params.seed = params.seed + p;
    const Graph gp = BuildInRam(prow.data(), mem.size(), space, part_params, threads,
                                &build_progress, &build_progress);
    for (size_t i = 0; i < mem.size(); ++i) local_of[mem[i]] = static_cast<uint32_t>(i);
    // What the merge may hold besides the partition's rows and graph.
    const uint64_t held = prow.size() * sizeof(float) + gp.MemoryUsage();
    const uint64_t spare = budget > held ? budget - held : 0;
    const size_t halo_rows =
        std::max<size_t>(params.degree, spare / (dim * sizeof(float) + 2 * sizeof(uint32_t)));
    SKEG_RETURN_IF_ERROR(MergePartition(rows, space, params, threads, static_cast<uint32_t>(p), mem,
                                        prow.data(), gp, parts.first, local_of, halo_rows, &final));
    for (uint32_t node : mem) local_of[node] = kNoNode;
  }
  local_of = std::vector<uint32_t>();
  parts = {};
  FixConnectivity(&final);
  return final;
}

}  // namespace skeg::index::vamana::internal
