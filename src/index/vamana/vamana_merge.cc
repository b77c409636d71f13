// StreamingMerge (FreshDiskANN, Singh et al. 2021, section 4): the delete phase repairs the
// surviving nodes around deleted ones, the insert phase adds the new rows as a Vamana pass
// would, all over one in-RAM GraphBuilder in the new numbering.
#include <algorithm>
#include <string>

#include "index/vamana/vamana_build.h"
#include "index/vamana/vamana_build_internal.h"

namespace skeg::index::vamana {
namespace {

// The merged rows in the new numbering: surviving base rows (by old number, ascending), then
// the inserts.
class MergedRows final : public RowSource {
 public:
  MergedRows(const RowSource* base, std::span<const uint32_t> live, const RowSource* inserts,
             size_t dim)
      : base_(base), live_(live), inserts_(inserts), dim_(dim) {}
  size_t size() const override {
    return live_.size() + (inserts_ == nullptr ? 0 : inserts_->size());
  }
  size_t dim() const override { return dim_; }
  Status ReadRows(size_t begin, size_t n, float* out) const override {
    if (begin + n > size()) return Status::InvalidArgument("row range out of bounds");
    while (n > 0 && begin < live_.size()) {
      size_t run = 1;
      while (run < n && begin + run < live_.size() && live_[begin + run] == live_[begin] + run) {
        ++run;
      }
      SKEG_RETURN_IF_ERROR(base_->ReadRows(live_[begin], run, out));
      begin += run;
      n -= run;
      out += run * dim_;
    }
    if (n == 0) return Status::Ok();
    return inserts_->ReadRows(begin - live_.size(), n, out);
  }

 private:
  const RowSource* base_;
  std::span<const uint32_t> live_;
  const RowSource* inserts_;
  size_t dim_;
};

Status CheckBase(const Graph& base) {
  const size_t nb = base.size();
  if (base.neighbors.size() != nb * size_t{base.degree}) {
    return Status::InvalidArgument("base graph: neighbour array does not match its size");
  }
  for (size_t i = 0; i < nb; ++i) {
    if (base.counts[i] > base.degree) {
      return Status::InvalidArgument("base graph: node " + std::to_string(i) +
                                     " has more edges than its degree");
    }
    for (uint32_t v : base.Neighbors(i)) {
      if (v >= nb) {
        return Status::InvalidArgument("base graph: node " + std::to_string(i) +
                                       " has an edge to " + std::to_string(v) + " of " +
                                       std::to_string(nb));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<MergeResult> StreamingMerge(const MergeInput& input, Metric metric,
                                   const BuildParams& params, const ProgressFn& progress) {
  SKEG_RETURN_IF_ERROR(params.Validate());
  const Graph* base = input.base;
  const size_t nb = base == nullptr ? 0 : base->size();
  if (nb > 0) {
    if (input.base_rows == nullptr || input.base_rows->size() != nb) {
      return Status::InvalidArgument("base_rows must hold one row per base node");
    }
    SKEG_RETURN_IF_ERROR(CheckBase(*base));
  }
  if (nb > 0 && input.deleted != nullptr && input.deleted->size() != nb) {
    return Status::InvalidArgument("deleted must hold one flag per base node");
  }
  const RowSource* inserts = input.inserts;
  const size_t ins = inserts == nullptr ? 0 : inserts->size();
  size_t dim = 0;
  if (nb > 0) {
    dim = input.base_rows->dim();
  } else if (inserts != nullptr) {
    dim = inserts->dim();
  }
  if (nb > 0 && inserts != nullptr && ins > 0 && inserts->dim() != dim) {
    return Status::InvalidArgument("inserts have dimension " + std::to_string(inserts->dim()) +
                                   ", base rows " + std::to_string(dim));
  }

  MergeResult result;
  result.old_to_new.assign(nb, kNoNode);
  std::vector<uint32_t> live;
  for (size_t old = 0; old < nb; ++old) {
    if (input.deleted != nullptr && (*input.deleted)[old]) continue;  // size checked above
    result.old_to_new[old] = static_cast<uint32_t>(live.size());
    live.push_back(static_cast<uint32_t>(old));
  }
  const size_t nl = live.size(), total = nl + ins;
  if (total > internal::kMaxNodes) {
    return Status::InvalidArgument("too many rows for a graph: " + std::to_string(total));
  }
  const MergedRows merged(input.base_rows, live, inserts, dim);
  if (nl == 0 || (params.build_memory_bytes != 0 &&
                  EstimateBuildBytes(total, dim, params.degree, params.int8_search) >
                      params.build_memory_bytes)) {
    SKEG_ASSIGN_OR_RETURN(result.graph, BuildGraph(merged, metric, params, progress));
    return result;
  }

  const internal::BuildSpace space(metric, dim);
  internal::BuildVector<float> rows(total * dim);
  SKEG_RETURN_IF_ERROR(internal::LoadAllRows(merged, space, rows.data()));
  const uint32_t threads = internal::ResolveThreads(params.threads);
  const uint32_t degree = params.degree;
  internal::GraphBuilder builder(rows.data(), total, space, degree, params.build_list, threads,
                                 params.int8_search);
  if (base->medoid < nb && result.old_to_new[base->medoid] != kNoNode) {
    builder.set_medoid(result.old_to_new[base->medoid]);
  } else {
    builder.set_medoid(internal::ClosestToCentroid(rows.data(), total, dim, nl));
  }

  // Delete phase (FreshDiskANN Alg. 4): p's deleted out-neighbours are replaced by their own
  // surviving out-neighbours, then RobustPrune. Reads only the base graph; each thread writes
  // the lists of its own nodes, so no locks.
  const std::vector<uint32_t>& old_to_new = result.old_to_new;
  internal::Progress delete_progress(progress, "merge deletes", nl);
  internal::ParallelFor(nl, threads, 256, [&](uint32_t t, size_t begin, size_t end) {
    internal::Scratch& s = builder.scratch()[t];
    for (size_t x = begin; x < end; ++x) {
      const uint32_t node = static_cast<uint32_t>(x);
      const std::span<const uint32_t> nbrs = base->Neighbors(live[x]);
      bool any_deleted = false;
      s.rev_ids.clear();
      for (uint32_t v : nbrs) {
        if (old_to_new[v] == kNoNode) {
          any_deleted = true;
        } else {
          s.rev_ids.push_back(old_to_new[v]);
        }
      }
      if (!any_deleted && s.rev_ids.size() <= degree) {
        builder.SetList(node, s.rev_ids);
        continue;
      }
      for (uint32_t v : nbrs) {
        if (old_to_new[v] != kNoNode) continue;
        for (uint32_t w : base->Neighbors(v)) {
          if (old_to_new[w] != kNoNode) s.rev_ids.push_back(old_to_new[w]);
        }
      }
      builder.PruneIds(node, s.rev_ids, params.alpha, &s, &s.rev_out);
      builder.SetList(node, s.rev_out);
    }
    delete_progress.Add(end - begin);
  });

  // Insert phase: one Vamana pass (alpha = params.alpha) over the inserts in input order.
  std::vector<uint32_t> order(ins);
  for (size_t i = 0; i < ins; ++i) order[i] = static_cast<uint32_t>(nl + i);
  internal::Progress insert_progress(progress, "merge inserts", ins);
  builder.RunPass(order, params.alpha, &insert_progress);
  builder.PruneToDegree(params.alpha);
  rows = internal::BuildVector<float>();  // frees; `rows = {}` would keep the capacity
  result.graph = builder.TakeGraph();
  internal::FixConnectivity(&result.graph);
  return result;
}

}  // namespace skeg::index::vamana
