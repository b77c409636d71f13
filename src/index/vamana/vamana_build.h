// Building Vamana graphs (DiskANN, Subramanya et al., NeurIPS 2019) and merging inserts and
// deletes into one (FreshDiskANN, Singh et al., 2021), all in RAM or within a memory budget.
//
// What the graph is. A directed graph over the rows of a RowSource (node i = row i) with
// out-degree <= R, no self-loops and no duplicate edges, every node reachable from `medoid`
// (the row closest to the centroid). Out-lists are in no particular order.
//
// Distances the graph is built with ("build space"):
//   kL2:           the rows as given; squared L2.
//   kCosine:       rows normalised to unit length on load (a zero row stays zero); squared L2 of
//                  the unit vectors, 2 * (1 - cos), which orders like the metric's 1 - cos.
//   kInnerProduct: the rows as given; -<x, y>, with DiskANN's MIPS occlusion rule in RobustPrune
//                  (y is occluded by a chosen x at level a when <x, y> > a * <p, y>). Measured
//                  against the MIPS-to-L2 reduction (an extra coordinate sqrt(M^2 - |x|^2),
//                  Bachrach et al. 2014) on raw glove: recall@10 0.99 against 0.59 at L 64.
// For L2 and cosine, RobustPrune's alpha compares squared distances, as DiskANN's code does.
// Search the graph with the metric's own distance (GreedySearch, or the disk index's).
//
// Memory. An in-RAM build holds the rows in build space (n * dim * 4 bytes), their int8 search
// codes (n * dim bytes; BuildParams::int8_search), the out-lists with DiskANN's 1.3x slack, and a
// little per-thread scratch (EstimateBuildBytes). The rows and codes are allocated 2 MiB aligned
// and advised to use transparent huge pages (madvise; no effect where THP is off). Above
// BuildParams::build_memory_bytes the build partitions the rows (see BuildGraph). The returned
// Graph is n * (4 * R + 4) bytes.
//
// Thread-safety. Every function here is reentrant: concurrent calls on distinct outputs are
// fine. BuildGraph and StreamingMerge use params.threads threads of their own and call
// RowSource::ReadRows from the calling thread only; `progress` may be called from any of them
// (never concurrently with itself).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "common/status.h"
#include "index/distance/distance.h"
#include "index/vamana/graph.h"

namespace skeg::index::vamana {

// Parameters of a build or a merge.
struct BuildParams {
  uint32_t degree = 64;       // R: the maximum out-degree, 1..1024
  uint32_t build_list = 128;  // L: the build search's list size, 1..65536; the build uses
                              // max(L, R) (a list shorter than R could not fill a node)
  float alpha = 1.2f;         // the second pass's RobustPrune alpha, in [1, 16] (the first uses 1)
  uint32_t threads = 0;       // 0: std::thread::hardware_concurrency()
  // 0: unlimited. Otherwise, when EstimateBuildBytes(n, dim, degree) exceeds it, BuildGraph
  // partitions the rows and StreamingMerge falls back to such a build. A partitioned build
  // needs at least 4 MiB + 256 * (5 * dim + 4 * ceil(1.3 * R) + 4 * R + 14) bytes (room for
  // partitions of 256 rows; 4 * dim without int8_search) and fails with kResourceExhausted,
  // naming that minimum, below it.
  uint64_t build_memory_bytes = 0;
  uint64_t seed = 0x5eed;  // insertion order and k-means; equal seeds + threads == 1: equal graphs
  // true: the build's greedy searches rank candidates by int8 codes of the rows (a quarter of
  // the bytes per distance; n * dim bytes more memory) and RobustPrune gets exact f32 distances
  // (see BuildGraph). false: every distance is f32.
  bool int8_search = true;

  // Errors: kInvalidArgument naming the bad field (degree outside 1..1024, build_list outside
  // 1..65536, alpha outside [1, 16] or NaN, threads above 4096).
  [[nodiscard]] Status Validate() const;
};

// Peak bytes of an in-RAM build of n rows of dim floats with out-degree `degree`: the rows
// (n * dim * 4) and, with int8_search, their codes (n * dim), the out-lists with slack, their
// counts and the insertion order (n * (ceil(1.3 * degree) + 2) * 4), per-thread visited bitmaps (n
// / 8 bytes per thread, counted for up to 16 threads) and a fixed 4 MiB for the rest of the
// per-thread scratch (about 100 KiB per thread at L = 128, R = 64); or, if larger, the moment the
// rows are gone and the lists are compacted into the final Graph. BuildGraph and StreamingMerge
// compare it with build_memory_bytes.
uint64_t EstimateBuildBytes(size_t n, size_t dim, uint32_t degree, bool int8_search = true);

// Builds a Vamana graph over every row of `rows` (DiskANN, Subramanya et al. NeurIPS 2019,
// Alg. 3 "Vamana indexing"): starting from an empty graph, each node in a random order (from
// params.seed) is searched for from the medoid (Alg. 1 GreedySearch, list size L), its
// out-list is RobustPrune(visited set + current out-list) (Alg. 2, DiskANN's progressive form:
// alpha 1 first, then relaxed up to alpha until R are chosen), and each new out-neighbour gets
// the reverse edge, pruned when its list exceeds the 1.3 * R slack. Two passes: alpha 1.0,
// then params.alpha; then every list is pruned to R.
//
// With params.int8_search (the default) the search ranks candidates by an asymmetric distance
// to per-dimension 8-bit scalar codes of the rows (the f32 row of the node being inserted
// against the codes of its candidates) and the visited set is re-ranked with exact f32
// distances before RobustPrune, which is exact throughout. The build is bound by memory
// traffic (each search distance reads one row at random), so a code of a quarter of the row
// makes it cheaper; with the rows on huge pages, `skeg build` of 100 000 x 768 (clustered, L2,
// R 64, L 128, 2 threads) took 41-42 s instead of 54-55 s (75 instead of 101 CPU-seconds), with
// recall@10 of the built index equal within 0.003 at every l_search measured (docs/vectors.md).
//
// Finally a BFS from the medoid finds the nodes it cannot reach and links each in from a
// reachable node near it (one of its own out-neighbours' closure where possible), replacing an
// edge that is not on the BFS tree when that node is full, so reachability only grows and
// degree <= R holds.
//
// Nodes are the rows' indices; the graph's degree is params.degree even when n - 1 < R; n == 0
// gives an empty graph with medoid kNoNode, n == 1 one node without edges.
//
// Partitioned build (DiskANN section 3.2), when params.build_memory_bytes != 0 and
// EstimateBuildBytes(n, dim, R) exceeds it: k-means (on a sample of at most 50 000 rows, or
// what fits the budget) into k = ceil(2.5 n / S) partitions, S being the most rows whose
// partition build and merge fit the budget; each row joins the partitions of its 2 nearest
// centroids. When a partition comes out bigger than S, k is raised (at most doubled, up to 3
// times) while that shrinks the biggest partition by 10% or more; failing that (rows that
// coincide, which k-means cannot split), the first k is kept and each partition bigger than
// S is dealt round-robin into equal chunks. Each partition is built
// in RAM as above from its rows alone (read from `rows` in runs of consecutive indices). Its
// out-lists are merged into the final graph: a node's first partition sets its list, the second
// takes the union with it and RobustPrunes back to R (rows of the union that are not in the
// partition are read from `rows` in budget-sized batches). Connectivity is fixed as above.
// What is held besides the budget: the final Graph, and O(n) arrays of at most 20 bytes per
// row (two partition ids and the member lists while partitioning; member lists, first
// partitions and a node-to-local map while building; BFS state at the end). `rows` is read
// 2 to 6 times sequentially (once for the sample, once per assignment), then each row
// twice by partition, plus the batches above.
//
// Progress phases (units: nodes): "build pass 1", "build pass 2"; partitioned: "partition"
// (rows, once per k-means attempt), then "build partitions" (both passes of every partition).
//
// Cost: glove 100k x 100 (cosine), R 64, L 128: about 61 CPU-seconds (70 with f32 search), 42 s
// on a busy 2-core machine, recall@10 0.975 at l_search 64 either way (DISABLED_Glove100k in
// vamana_build_test.cc); 1M x 768 (clustered, L2): 31 CPU-minutes, peak RSS 4.1 GiB.
// The partitioned build costs about the same. Errors: params.Validate()'s;
// kInvalidArgument for dim 0 with rows, more than 2^32 - 2 rows, or a NaN/Inf component;
// kResourceExhausted when the budget is below the minimum above; rows.ReadRows' errors.
Result<Graph> BuildGraph(const RowSource& rows, Metric metric, const BuildParams& params,
                         const ProgressFn& progress = {});

// Greedy search (DiskANN Alg. 1) over a built graph from its medoid with exact f32 distances:
// the min(k, reachable) nodes nearest to `query` as (distance, node), nearest first, ties by
// node. `rows` holds the graph's rows in node order (graph.size() * dim floats, as given to the
// build, not normalised); `query` is dim floats (raw; normalised internally for cosine).
// Distances are the metric's (distance.h): squared L2, 1 - cos, or -dot. The search list has
// max(l_search, k) entries. An empty graph gives an empty result. Allocates its scratch per
// call: for tests and tools, not the serving path. REQUIRES: rows.size() == graph.size() * dim.
std::vector<std::pair<float, uint32_t>> GreedySearch(const Graph& graph,
                                                     std::span<const float> rows, size_t dim,
                                                     Metric metric, const float* query, size_t k,
                                                     uint32_t l_search);

// The input of StreamingMerge. Nothing is owned; everything must outlive the call.
struct MergeInput {
  const Graph* base = nullptr;                 // may be null/empty: then a fresh build
  const RowSource* base_rows = nullptr;        // rows of base nodes, node order
  const std::vector<bool>* deleted = nullptr;  // size base->size(); true = drop; null: none;
                                               // ignored when base is null or empty
  const RowSource* inserts = nullptr;          // new rows; null or empty: none
};

struct MergeResult {
  Graph graph;                       // over the new numbering below
  std::vector<uint32_t> old_to_new;  // per base node: its new node number or kNoNode (deleted)
};

// FreshDiskANN StreamingMerge (Singh et al. 2021, "StreamingMerge": Delete, Insert and Patch
// phases), done in RAM: the Patch phase (reverse edges of the inserts, batched on SSD in the
// paper) happens during the Insert phase. New numbering: the surviving base nodes first, in
// their old relative order, then the inserts in input order.
//  * Delete phase (FreshDiskANN's Delete algorithm): every surviving node p with deleted
//    out-neighbours D gets C = (N_out(p) \ D) + (N_out(v) \ D for each v in D), then
//    RobustPrune(p, C, params.alpha, R). Other surviving nodes keep their lists (pruned to R
//    if the base had a larger degree).
//  * Insert phase (Alg. 2/3 of DiskANN, as in the second build pass): each insert is searched
//    for from the medoid (list size L), RobustPrune'd with params.alpha, and gets reverse edges
//    with pruning on overflow. Every list is finally pruned to R and connectivity from the
//    medoid is fixed as in BuildGraph.
//  * Medoid: the old one's new number when it survives, else the surviving base node closest
//    to the centroid of all new rows.
// When nothing of the base survives (null, empty or all deleted) the result is BuildGraph over
// the inserts. When params.build_memory_bytes != 0 and EstimateBuildBytes(survivors + inserts,
// dim, R) exceeds it, the result is BuildGraph over the combined rows in the new numbering
// (which partitions); old_to_new is the same either way. Memory of the in-RAM merge: that
// estimate plus the caller's base Graph. Each base row is read once (deleted rows not at all).
// Progress phases: "merge deletes" (surviving nodes), "merge inserts" (inserts), or
// BuildGraph's.
//
// Errors: params.Validate()'s; kInvalidArgument when base_rows is missing or its size differs
// from base->size(), deleted's size differs, dims differ between base_rows and inserts, the
// base graph is malformed (an edge out of range, a count above its degree), or a row holds
// NaN/Inf; BuildGraph's; the RowSources' read errors. Thread-safety: as BuildGraph; the base
// graph and rows are only read.
Result<MergeResult> StreamingMerge(const MergeInput& input, Metric metric,
                                   const BuildParams& params, const ProgressFn& progress = {});

}  // namespace skeg::index::vamana
