// The Vamana build primitives (DiskANN, Subramanya et al. NeurIPS 2019): greedy search (Alg. 1),
// RobustPrune (Alg. 2), the insertion loop (Alg. 3) over a concurrently updated graph, and the
// reachability repair, the int8 search codes and the build arrays' allocator. See vamana_build.h
// for the contracts.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "index/quant/internal/kinds.h"
#include "index/vamana/vamana_build_internal.h"
#include "platform/aligned_buffer.h"

namespace skeg::index::vamana::internal {

void* AllocateBuildArray(size_t bytes) {
  if (bytes < kHugeAllocBytes) return ::operator new(bytes);
  return platform::AllocateHugePageArray(bytes);
}

void FreeBuildArray(void* p, size_t bytes) {
  if (bytes < kHugeAllocBytes) {
    ::operator delete(p);
  } else {
    platform::FreeHugePageArray(p);
  }
}

uint32_t ResolveThreads(uint32_t threads) {
  if (threads != 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

// ---- build space ------------------------------------------------------------------------------

Status BuildSpace::Scan(const float* rows, size_t count, uint64_t first) const {
  for (size_t r = 0; r < count; ++r) {
    const float* row = rows + r * dim_;
    float acc = 0;
    for (size_t i = 0; i < dim_; ++i) acc += row[i] - row[i];  // NaN iff some value is NaN/Inf
    if (!(acc == 0)) {
      return Status::InvalidArgument("row " + std::to_string(first + r) +
                                     " has a NaN or Inf component");
    }
  }
  return Status::Ok();
}

void BuildSpace::Convert(float* rows, size_t count) const {
  if (metric_ != Metric::kCosine) return;
  for (size_t r = 0; r < count; ++r) NormalizeF32(rows + r * dim_, dim_);
}

namespace {

// Rows per ReadRows call when loading by id.
constexpr size_t kReadChunkRows = 1024;

}  // namespace

Status LoadAllRows(const RowSource& src, const BuildSpace& space, float* out) {
  const size_t n = src.size(), dim = space.dim();
  for (size_t begin = 0; begin < n; begin += kReadChunkRows) {
    const size_t count = std::min(kReadChunkRows, n - begin);
    float* dst = out + begin * dim;
    SKEG_RETURN_IF_ERROR(src.ReadRows(begin, count, dst));
    SKEG_RETURN_IF_ERROR(space.Scan(dst, count, begin));
    space.Convert(dst, count);
  }
  return Status::Ok();
}

Status LoadRowsById(const RowSource& src, const BuildSpace& space, std::span<const uint32_t> ids,
                    float* out) {
  const size_t dim = space.dim();
  size_t i = 0;
  while (i < ids.size()) {
    size_t run = 1;
    while (i + run < ids.size() && run < kReadChunkRows && ids[i + run] == ids[i] + run) ++run;
    float* dst = out + i * dim;
    SKEG_RETURN_IF_ERROR(src.ReadRows(ids[i], run, dst));
    SKEG_RETURN_IF_ERROR(space.Scan(dst, run, ids[i]));
    space.Convert(dst, run);
    i += run;
  }
  return Status::Ok();
}

uint32_t ClosestToCentroid(const float* rows, size_t n, size_t dim, size_t limit) {
  if (limit == 0 || n == 0) return kNoNode;
  std::vector<double> sum(dim, 0.0);
  for (size_t r = 0; r < n; ++r) {
    const float* row = rows + r * dim;
    for (size_t i = 0; i < dim; ++i) sum[i] += row[i];
  }
  std::vector<float> centroid(dim);
  for (size_t i = 0; i < dim; ++i) centroid[i] = static_cast<float>(sum[i] / double(n));
  const auto l2 = Kernels().l2_sqr_f32;
  uint32_t best = 0;
  float best_d = std::numeric_limits<float>::infinity();
  for (size_t r = 0; r < limit; ++r) {
    const float d = l2(centroid.data(), rows + r * dim, dim);
    if (d < best_d) {
      best_d = d;
      best = static_cast<uint32_t>(r);
    }
  }
  return best;
}

// ---- search and prune primitives ----------------------------------------------------------------

void RobustPrune(std::span<const Cand> pool, std::span<const float* const> rows,
                 const BuildSpace& space, float alpha, uint32_t degree, std::vector<float>* occl,
                 std::vector<uint32_t>* chosen, std::vector<uint32_t>* out) {
  const Distance dist = space.distance();
  const bool ip = space.inner_product();
  constexpr float kOut = std::numeric_limits<float>::infinity();
  const size_t m = pool.size();
  occl->assign(m, 0.0f);
  chosen->clear();
  // occl[j] = the smallest level at which no chosen i occludes j (j is eligible while
  // occl[j] <= level). Distances: d(p, j) / d(i, j); an exact duplicate of a chosen node is out.
  // Inner product: j is occluded at level a when <i, j> > a * <p, j>, so for <p, j> > 0 the
  // level is <i, j> / <p, j>; a candidate with <p, j> <= 0 is out once some <i, j> > <p, j>
  // (DiskANN's MIPS rule, with the level kept exact instead of DiskANN's "level + 0.01").
  float level = 1.0f;
  for (;;) {
    for (size_t i = 0; i < m && chosen->size() < degree; ++i) {
      if ((*occl)[i] > level) continue;
      (*occl)[i] = kOut;
      chosen->push_back(static_cast<uint32_t>(i));
      for (size_t j = i + 1; j < m; ++j) {
        float& o = (*occl)[j];
        if (o > alpha) continue;
        const float d = dist(rows[i], rows[j]);
        if (!ip) {
          o = d == 0 ? kOut : std::max(o, pool[j].dist / d);
          continue;
        }
        const float pj = -pool[j].dist, ij = -d;
        if (pj > 0) {
          if (ij > 0) o = std::max(o, ij / pj);
        } else if (ij > pj) {
          o = kOut;
        }
      }
    }
    if (chosen->size() >= degree || level >= alpha) break;
    level = std::min(level * 1.2f, alpha);
  }
  std::sort(chosen->begin(), chosen->end());  // pool order: nearest first
  out->clear();
  for (uint32_t i : *chosen) out->push_back(pool[i].id);
}

// ---- SearchCodes ------------------------------------------------------------------------------

void SearchCodes::Build(const float* rows, size_t n, const BuildSpace& space, uint32_t threads) {
  dim_ = space.dim();
  codes_ = BuildVector<uint8_t>();
  if (n == 0 || dim_ == 0) return;
  Result<std::unique_ptr<Quantizer>> q = MakeQuantizer(
      QuantKind::kInt8, dim_, space.inner_product() ? Metric::kInnerProduct : Metric::kL2);
  SKEG_CHECK(q.ok());  // int8 accepts every dimension with the default parameters
  quantizer_ = std::move(*q);
  SKEG_CHECK(quantizer_->Train(rows, n).ok());  // fails only for n == 0
  codes_.resize(n * dim_);
  constexpr size_t kChunk = 4096;
  ParallelFor(n, std::max(threads, 1u), kChunk, [&](uint32_t, size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      quantizer_->Encode(rows + r * dim_, codes_.data() + r * dim_);
    }
  });
}

void Progress::Add(uint64_t units) {
  if (!fn_ || units == 0) return;
  const uint64_t done = done_.fetch_add(units, std::memory_order_relaxed) + units;
  if (done / kStep == (done - units) / kStep && done != total_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (done <= reported_) return;
  reported_ = done;
  fn_(phase_, done, total_);
}

// ---- GraphBuilder
// --------------------------------------------------------------------------------

GraphBuilder::GraphBuilder(const float* rows, size_t n, const BuildSpace& space, uint32_t degree,
                           uint32_t build_list, uint32_t threads, bool int8_search)
    : rows_(rows),
      space_(space),
      dist_(space.distance()),
      dim_(space.dim()),
      degree_(degree),
      cap_(SlackDegree(degree)),
      build_list_(std::max(build_list, degree)),
      threads_(std::max(threads, 1u)),
      adj_(n * cap_, kNoNode),
      counts_(n, 0),
      locks_(std::make_unique<std::mutex[]>(kStripes)),
      scratch_(threads_) {
  for (Scratch& s : scratch_) s.visited.Resize(n);
  if (int8_search) {
    codes_.Build(rows, n, space, threads_);
    if (!codes_.empty()) {
      for (Scratch& s : scratch_) s.codes_ctx = codes_.NewQueryContext();
    }
  }
}

void GraphBuilder::SetList(uint32_t node, std::span<const uint32_t> ids) {
  SKEG_DCHECK(ids.size() <= cap_);
  std::copy(ids.begin(), ids.end(), List(node));
  counts_[node] = static_cast<uint32_t>(ids.size());
}

void GraphBuilder::CopyList(uint32_t node, std::vector<uint32_t>* out) const {
  std::lock_guard<std::mutex> lock(Lock(node));
  const uint32_t* list = adj_.data() + size_t{node} * cap_;
  out->assign(list, list + counts_[node]);
}

void GraphBuilder::SetListLocked(uint32_t node, std::span<const uint32_t> ids) {
  std::lock_guard<std::mutex> lock(Lock(node));
  SetList(node, ids);
}

void GraphBuilder::Search(const float* query, Scratch* s) const {
  s->visited.Clear();
  s->list.Reset(build_list_);
  s->expanded.clear();
  const bool coded = !codes_.empty();
  if (coded) codes_.PrepareQuery(query, &s->codes_ctx);
  auto distance = [&](uint32_t id) {
    return coded ? codes_.Distance(s->codes_ctx, id) : dist_(query, Row(id));
  };
  auto prefetch = [&](uint32_t id) {
    if (coded) {
      // The whole code (up to 1 KiB): the kernel reads all of it right away.
      PrefetchBytes(codes_.Code(id), std::min<size_t>(dim_, 1024));
    } else {
      PrefetchRow(Row(id), dim_);
    }
  };
  s->visited.Insert(medoid_);
  s->list.Insert({distance(medoid_), medoid_});
  while (s->list.HasNext()) {
    const Cand c = s->list.Next();
    s->expanded.push_back(c);
    CopyList(c.id, &s->nbrs);
    s->fresh.clear();
    for (uint32_t id : s->nbrs) {
      if (s->visited.Insert(id)) s->fresh.push_back(id);
    }
    // Prefetch a few rows ahead of the distance computations: prefetching all of them at once
    // stalls on the line-fill buffers.
    constexpr size_t kAhead = 4;
    const size_t m = s->fresh.size();
    for (size_t k = 0; k < std::min(kAhead, m); ++k) prefetch(s->fresh[k]);
    for (size_t k = 0; k < m; ++k) {
      if (k + kAhead < m) prefetch(s->fresh[k + kAhead]);
      s->list.Insert({distance(s->fresh[k]), s->fresh[k]});
    }
  }
}

namespace {

// Sorts by (dist, id), drops repeated ids (a repeated id has the same distance, so repeats are
// adjacent) and keeps the nearest kMaxPruneCandidates.
void SortUniqueTruncate(std::vector<Cand>* pool) {
  std::sort(pool->begin(), pool->end());
  auto end = std::unique(pool->begin(), pool->end(),
                         [](const Cand& a, const Cand& b) { return a.id == b.id; });
  pool->erase(end, pool->end());
  if (pool->size() > kMaxPruneCandidates) pool->resize(kMaxPruneCandidates);
}

}  // namespace

void GraphBuilder::InsertNode(uint32_t p, float alpha, Scratch* s) {
  const float* q = Row(p);
  Search(q, s);
  // Alg. 3: V = visited nodes of the search plus p's current out-list, without p.
  s->pool.clear();
  if (codes_.empty()) {
    for (const Cand& c : s->expanded) {
      if (c.id != p) s->pool.push_back(c);
    }
  } else {
    // The search ranked by code distances; RobustPrune gets exact ones.
    constexpr size_t kAhead = 2;
    const size_t m = s->expanded.size();
    for (size_t k = 0; k < std::min(kAhead, m); ++k) PrefetchRow(Row(s->expanded[k].id), dim_);
    for (size_t k = 0; k < m; ++k) {
      if (k + kAhead < m) PrefetchRow(Row(s->expanded[k + kAhead].id), dim_);
      const uint32_t id = s->expanded[k].id;
      if (id != p) s->pool.push_back({dist_(q, Row(id)), id});
    }
  }
  CopyList(p, &s->nbrs);
  for (uint32_t id : s->nbrs) s->pool.push_back({dist_(q, Row(id)), id});
  SortUniqueTruncate(&s->pool);
  s->ptrs.clear();
  for (const Cand& c : s->pool) s->ptrs.push_back(Row(c.id));
  RobustPrune(s->pool, s->ptrs, space_, alpha, degree_, &s->occl, &s->chosen, &s->pruned);
  SetListLocked(p, s->pruned);
  for (uint32_t j : s->pruned) AddReverse(j, p, alpha, s);
}

void GraphBuilder::AddReverse(uint32_t j, uint32_t p, float alpha, Scratch* s) {
  {
    std::lock_guard<std::mutex> lock(Lock(j));
    uint32_t* list = List(j);
    const uint32_t count = counts_[j];
    if (std::find(list, list + count, p) != list + count) return;
    if (count < cap_) {
      list[count] = p;
      counts_[j] = count + 1;
      return;
    }
    s->rev_ids.assign(list, list + count);
  }
  // The list is full: prune it with p to R outside the lock; an edge another thread adds to j
  // meanwhile is lost when the pruned list is stored (DiskANN's inter_insert does the same).
  s->rev_ids.push_back(p);
  PruneIds(j, s->rev_ids, alpha, s, &s->rev_out);
  SetListLocked(j, s->rev_out);
}

void GraphBuilder::PruneIds(uint32_t node, std::span<const uint32_t> ids, float alpha, Scratch* s,
                            std::vector<uint32_t>* out) const {
  const float* q = Row(node);
  s->pool.clear();
  for (uint32_t id : ids) {
    if (id != node) s->pool.push_back({dist_(q, Row(id)), id});
  }
  SortUniqueTruncate(&s->pool);
  s->ptrs.clear();
  for (const Cand& c : s->pool) s->ptrs.push_back(Row(c.id));
  RobustPrune(s->pool, s->ptrs, space_, alpha, degree_, &s->occl, &s->chosen, out);
}

void GraphBuilder::RunPass(std::span<const uint32_t> order, float alpha, Progress* progress) {
  ParallelFor(order.size(), threads_, 64, [&](uint32_t t, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) InsertNode(order[i], alpha, &scratch_[t]);
    if (progress != nullptr) progress->Add(end - begin);
  });
}

void GraphBuilder::PruneToDegree(float alpha) {
  ParallelFor(size(), threads_, 256, [&](uint32_t t, size_t begin, size_t end) {
    Scratch* s = &scratch_[t];
    for (size_t i = begin; i < end; ++i) {
      const uint32_t node = static_cast<uint32_t>(i);
      if (counts_[node] <= degree_) continue;
      s->rev_ids.assign(List(node), List(node) + counts_[node]);
      PruneIds(node, s->rev_ids, alpha, s, &s->rev_out);
      SetList(node, s->rev_out);
    }
  });
}

Graph GraphBuilder::TakeGraph() {
  const size_t n = size();
  // In place: node i's list moves from i * cap_ to i * degree_ <= i * cap_, so a forward sweep
  // never overwrites a list it has not moved yet.
  for (size_t i = 0; i < n; ++i) {
    const uint32_t count = counts_[i];
    SKEG_CHECK(count <= degree_);
    uint32_t* dst = adj_.data() + i * degree_;
    std::memmove(dst, adj_.data() + i * cap_, count * sizeof(uint32_t));
    std::fill(dst + count, dst + degree_, kNoNode);
  }
  adj_.resize(n * degree_);
  adj_.shrink_to_fit();
  Graph g;
  g.degree = degree_;
  g.medoid = n == 0 ? kNoNode : medoid_;
  g.neighbors = std::move(adj_);
  g.counts = std::move(counts_);
  adj_ = {};
  counts_ = {};
  codes_ = {};
  scratch_ = std::vector<Scratch>();
  return g;
}

std::vector<uint32_t> RandomOrder(size_t n, uint64_t seed) {
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  ::skeg::index::internal::SplitMix64 rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.Uniform(i)]);
  return order;
}

Graph BuildInRam(const float* rows, size_t n, const BuildSpace& space, const BuildParams& params,
                 uint32_t threads, Progress* p1, Progress* p2, BuildVector<float>* release) {
  GraphBuilder builder(rows, n, space, params.degree, params.build_list, threads,
                       params.int8_search);
  builder.set_medoid(ClosestToCentroid(rows, n, space.dim(), n));
  // Two passes (DiskANN section 2.3): alpha = 1 builds a sparse, well-navigable core; the
  // second pass with alpha > 1 adds the long edges that shorten search paths.
  builder.RunPass(RandomOrder(n, params.seed), 1.0f, p1);
  builder.RunPass(RandomOrder(n, params.seed + 1), params.alpha, p2);
  builder.PruneToDegree(params.alpha);
  // Free the rows: the compaction briefly holds the lists twice. (`*release = {}` would call
  // operator=(initializer_list) and keep the capacity.)
  if (release != nullptr) *release = BuildVector<float>();
  return builder.TakeGraph();
}

// ---- reachability
// ---------------------------------------------------------------------------------

size_t FixConnectivity(Graph* g) {
  const size_t n = g->size();
  if (n == 0) return 0;
  SKEG_CHECK(g->medoid < n);
  const uint32_t degree = g->degree;
  // A BFS tree from the medoid (parent[]); only edges off the tree are ever replaced, so every
  // node reached stays reached.
  std::vector<uint32_t> parent(n, kNoNode);
  std::vector<uint8_t> reached(n, 0);
  std::vector<uint32_t> order;
  order.reserve(n);
  auto expand = [&](uint32_t start) {
    size_t head = order.size();
    reached[start] = 1;
    order.push_back(start);
    while (head < order.size()) {
      const uint32_t v = order[head++];
      for (uint32_t w : g->Neighbors(v)) {
        if (reached[w]) continue;
        reached[w] = 1;
        parent[w] = v;
        order.push_back(w);
      }
    }
  };
  expand(g->medoid);
  if (order.size() == n) return 0;

  constexpr size_t kNone = SIZE_MAX;
  auto has_room = [&](uint32_t v) { return g->counts[v] < degree; };
  // The last slot of v's list whose edge is not a tree edge (lists are nearest first, so the
  // farthest such edge), or kNone.
  auto off_tree_slot = [&](uint32_t v) {
    const std::span<const uint32_t> nb = g->Neighbors(v);
    for (size_t k = nb.size(); k-- > 0;) {
      if (parent[nb[k]] != v) return k;
    }
    return kNone;
  };
  // A reached node can always take one more edge: a BFS tree has a leaf, and a leaf's edges are
  // all off the tree (or it has room). Nodes that cannot (full, only tree edges) stay so, so one
  // cursor over `order` finds such a node in amortised O(1).
  size_t cursor = 0;
  constexpr size_t kExplore = 64, kConsider = 8;
  VisitedSet seen;
  seen.Resize(n);
  std::vector<uint32_t> queue, near;
  size_t linked = 0;
  for (uint32_t u = 0; u < n; ++u) {
    if (reached[u]) continue;
    // Reached nodes near u: those in the closure of u's out-edges, nearest hops first.
    seen.Clear();
    queue.assign(1, u);
    near.clear();
    seen.Insert(u);
    for (size_t head = 0; head < queue.size() && head < kExplore && near.size() < kConsider;
         ++head) {
      for (uint32_t w : g->Neighbors(queue[head])) {
        if (!seen.Insert(w)) continue;
        if (reached[w]) {
          near.push_back(w);
        } else {
          queue.push_back(w);
        }
      }
    }
    uint32_t src = kNoNode;
    for (uint32_t v : near) {
      if (has_room(v)) {
        src = v;
        break;
      }
    }
    for (size_t i = 0; i < near.size() && src == kNoNode; ++i) {
      if (off_tree_slot(near[i]) != kNone) src = near[i];
    }
    if (src == kNoNode) {
      while (cursor < order.size() && !has_room(order[cursor]) &&
             off_tree_slot(order[cursor]) == kNone) {
        ++cursor;
      }
      SKEG_CHECK(cursor < order.size());
      src = order[cursor];
    }
    uint32_t* list = g->neighbors.data() + size_t{src} * degree;
    if (has_room(src)) {
      list[g->counts[src]++] = u;
    } else {
      list[off_tree_slot(src)] = u;
    }
    parent[u] = src;
    expand(u);
    ++linked;
  }
  return linked;
}

}  // namespace skeg::index::vamana::internal
