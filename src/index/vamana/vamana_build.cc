// BuildGraph's in-RAM path and the public search. The partitioned path is in
// vamana_partition.cc, StreamingMerge in vamana_merge.cc, the primitives in vamana_core.cc.
#include "index/vamana/vamana_build.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "index/vamana/vamana_build_internal.h"

namespace skeg::index::vamana {

Status BuildParams::Validate() const {
  if (degree < 1 || degree > 1024) {
    return Status::InvalidArgument("degree must be in 1..1024, got " + std::to_string(degree));
  }
  if (build_list < 1 || build_list > 65536) {
    return Status::InvalidArgument("build_list must be in 1..65536, got " +
                                   std::to_string(build_list));
  }
  if (!(alpha >= 1.0f && alpha <= 16.0f)) {
    return Status::InvalidArgument("alpha must be in [1, 16], got " + std::to_string(alpha));
  }
  if (threads > 4096) {
    return Status::InvalidArgument("threads must be at most 4096, got " + std::to_string(threads));
  }
  return Status::Ok();
}

uint64_t EstimateBuildBytes(size_t n, size_t dim, uint32_t degree, bool int8_search) {
  const uint64_t rows = uint64_t{n} * dim * (sizeof(float) + (int8_search ? 1 : 0));
  // Slack lists + counts + one insertion order, and the visited bitmaps of up to 16 threads.
  const uint64_t lists = uint64_t{n} * ((internal::SlackDegree(degree) + 2) * sizeof(uint32_t) + 2);
  const uint64_t graph = uint64_t{n} * degree * sizeof(uint32_t);
  return std::max(rows + lists + internal::kScratchAllowanceBytes, lists + graph);
}

Result<Graph> BuildGraph(const RowSource& rows, Metric metric, const BuildParams& params,
                         const ProgressFn& progress) {
  SKEG_RETURN_IF_ERROR(params.Validate());
  const size_t n = rows.size(), dim = rows.dim();
  if (n > 0 && dim == 0) return Status::InvalidArgument("rows have dimension 0");
  if (n > internal::kMaxNodes) {
    return Status::InvalidArgument("too many rows for a graph: " + std::to_string(n));
  }
  if (params.build_memory_bytes != 0 &&
      EstimateBuildBytes(n, dim, params.degree, params.int8_search) > params.build_memory_bytes) {
    return internal::BuildPartitioned(rows, metric, params, progress);
  }
  const internal::BuildSpace space(metric, dim);
  internal::BuildVector<float> buf(n * dim);
  SKEG_RETURN_IF_ERROR(internal::LoadAllRows(rows, space, buf.data()));
  internal::Progress p1(progress, "build pass 1", n);
  internal::Progress p2(progress, "build pass 2", n);
  Graph graph = internal::BuildInRam(buf.data(), n, space, params,
                                     internal::ResolveThreads(params.threads), &p1, &p2, &buf);
  internal::FixConnectivity(&graph);
  return graph;
}

std::vector<std::pair<float, uint32_t>> GreedySearch(const Graph& graph,
                                                     std::span<const float> rows, size_t dim,
                                                     Metric metric, const float* query, size_t k,
                                                     uint32_t l_search) {
  const size_t n = graph.size();
  if (n == 0 || k == 0 || graph.medoid >= n) return {};
  SKEG_CHECK(rows.size() == n * dim);
  const DistanceKernels& kernels = Kernels();
  std::vector<float> q(query, query + dim);
  if (metric == Metric::kCosine) NormalizeF32(q.data(), dim);
  auto distance = [&](uint32_t id) {
    const float* x = rows.data() + size_t{id} * dim;
    switch (metric) {
      case Metric::kL2:
        return kernels.l2_sqr_f32(q.data(), x, dim);
      case Metric::kInnerProduct:
        return -kernels.dot_f32(q.data(), x, dim);
      case Metric::kCosine:
        break;
    }
    const float norm = NormF32(x, dim);
    return norm == 0 ? 1.0f : 1.0f - kernels.dot_f32(q.data(), x, dim) / norm;
  };

  internal::VisitedSet visited;
  visited.Resize(n);
  internal::CandidateList list;
  list.Reset(std::max<size_t>(l_search, k));
  visited.Insert(graph.medoid);
  list.Insert({distance(graph.medoid), graph.medoid});
  while (list.HasNext()) {
    const internal::Cand c = list.Next();
    for (uint32_t id : graph.Neighbors(c.id)) {
      if (visited.Insert(id)) list.Insert({distance(id), id});
    }
  }
  std::vector<std::pair<float, uint32_t>> out;
  const size_t take = std::min(k, list.size());
  out.reserve(take);
  for (size_t i = 0; i < take; ++i) out.emplace_back(list[i].dist, list[i].id);
  return out;
}

}  // namespace skeg::index::vamana
