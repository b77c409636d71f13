// Tests of the disk index file: round trips of every field, beam-search recall against brute
// force (clustered synthetic data, sift-5k and a 5k glove subset when the shared data exists),
// every navigation-code kind, acceptors, I/O variants (io_uring / pread, O_DIRECT on / off,
// cache on / off) giving identical results, corruption detection, record packing and spanning,
// and concurrent searches.
//
// The graph builder (vamana_build.h) is written in parallel, so the tests build their own graph:
// the exact R - 4 nearest neighbours of every node plus 4 random long edges, entry point = the
// node nearest the centroid. That is navigable enough for a beam search to reach high recall.
#include "index/vamana/disk_index.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "index/distance/distance.h"
#include "index/quant/quantizer.h"
#include "platform/env.h"
#include "storage/cache/page_cache.h"
#include "testing/datasets.h"
#include "testing/temp_dir.h"

namespace skeg::index::vamana {
namespace {

#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSlowBuild = true;
#else
constexpr bool kSlowBuild = false;
#endif

constexpr size_t kK = 10;

// ---- test data ------------------------------------------------------------------------------

struct Data {
  size_t n = 0, d = 0;
  Metric metric = Metric::kL2;
  std::vector<float> rows;     // n x d
  std::vector<float> queries;  // nq x d
  size_t nq = 0;
  Graph graph;
  std::vector<std::vector<uint32_t>> truth;  // nq x kK nodes, best first
};

// Gaussian clusters: centres uniform in [-1, 1]^d, points centre + N(0, 0.15^2).
std::vector<float> Clustered(size_t n, size_t d, size_t clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1, 1);
  std::normal_distribution<float> noise(0, 0.15f);
  std::vector<float> centres(clusters * d);
  for (float& c : centres) c = uni(rng);
  std::vector<float> out(n * d);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng() % clusters;
    for (size_t j = 0; j < d; ++j) out[i * d + j] = centres[c * d + j] + noise(rng);
  }
  return out;
}

// FlatIndex's exact distance convention, on the raw query.
float RefDistance(Metric m, const float* q, const float* x, size_t d) {
  const DistanceKernels& k = Kernels();
  switch (m) {
    case Metric::kL2:
      return k.l2_sqr_f32(q, x, d);
    case Metric::kInnerProduct:
      return -k.dot_f32(q, x, d);
    case Metric::kCosine: {
      const float nq = NormF32(q, d), nx = NormF32(x, d);
      return nq > 0 && nx > 0 ? -(k.dot_f32(q, x, d) / (nq * nx)) : 0.0f;
    }
  }
  return 0;
}

// Distances of q to every row (L2, -dot or -cos), on normalised copies for cosine.
void AllDistances(const Data& ds, const std::vector<float>& base, const float* q,
                  std::vector<float>* out) {
  out->resize(ds.n);
  if (ds.metric == Metric::kL2) {
    Kernels().l2_sqr_f32_batch(q, base.data(), ds.n, ds.d, out->data());
  } else {
    Kernels().dot_f32_batch(q, base.data(), ds.n, ds.d, out->data());
    for (float& v : *out) v = -v;
  }
}

std::vector<float> Normalized(const std::vector<float>& v, size_t d) {
  std::vector<float> out = v;
  for (size_t i = 0; i < out.size() / d; ++i) NormalizeF32(out.data() + i * d, d);
  return out;
}

// RobustPrune (DiskANN, Subramanya et al. 2019, Algorithm 2) of `pool` (sorted by distance to
// the node) to at most `cap` out-neighbours, with squared-L2 distances on `base`.
std::vector<uint32_t> RobustPrune(const std::vector<float>& base, size_t d,
                                  std::vector<std::pair<float, uint32_t>> pool, size_t cap) {
  constexpr float kAlpha = 1.2f;
  std::vector<uint32_t> out;
  std::vector<bool> gone(pool.size(), false);
  for (size_t a = 0; a < pool.size() && out.size() < cap; ++a) {
    if (gone[a]) continue;
    const uint32_t p = pool[a].second;
    out.push_back(p);
    for (size_t b = a + 1; b < pool.size(); ++b) {
      if (gone[b]) continue;
      const float dpb = Kernels().l2_sqr_f32(base.data() + size_t{p} * d,
                                             base.data() + size_t{pool[b].second} * d, d);
      // Squared distances: alpha^2 on the squared side keeps alpha's meaning.
      if (kAlpha * kAlpha * dpb <= pool[b].first) gone[b] = true;
    }
  }
  return out;
}

// The test graph: for every node, RobustPrune of its exact 2R nearest neighbours (squared L2 on
// the rows, normalised for cosine) to R - random_edges, then reverse edges (re-pruned when a
// list overflows), then random_edges random long edges for connectivity between clusters.
void BuildGraph(Data* ds, uint32_t r, uint32_t random_edges, uint64_t seed) {
  const std::vector<float> base =
      ds->metric == Metric::kCosine ? Normalized(ds->rows, ds->d) : ds->rows;
  const size_t n = ds->n;
  const size_t d = ds->d;
  const size_t cap = std::min<size_t>(r - random_edges, n - 1);
  const size_t pool_size = std::min<size_t>(2 * r, n - 1);
  std::vector<std::vector<uint32_t>> adj(n);
  std::vector<float> dist(n);
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) {
    Kernels().l2_sqr_f32_batch(base.data() + i * d, base.data(), n, d, dist.data());
    dist[i] = INFINITY;
    std::iota(order.begin(), order.end(), 0u);
    std::partial_sort(
        order.begin(), order.begin() + static_cast<long>(pool_size), order.end(),
        [&](uint32_t a, uint32_t b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
    std::vector<std::pair<float, uint32_t>> pool;
    for (size_t j = 0; j < pool_size; ++j) pool.emplace_back(dist[order[j]], order[j]);
    adj[i] = RobustPrune(base, d, std::move(pool), cap);
  }
  // Reverse edges, each list pruned once when it overflows.
  std::vector<std::vector<uint32_t>> merged = adj;
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t j : adj[i]) merged[j].push_back(static_cast<uint32_t>(i));
  }
  for (size_t j = 0; j < n; ++j) {
    std::vector<uint32_t>& m = merged[j];
    std::sort(m.begin(), m.end());
    m.erase(std::unique(m.begin(), m.end()), m.end());
    if (m.size() <= cap) {
      adj[j] = m;
      continue;
    }
    std::vector<std::pair<float, uint32_t>> pool;
    for (uint32_t v : m) {
      pool.emplace_back(Kernels().l2_sqr_f32(base.data() + j * d, base.data() + size_t{v} * d, d),
                        v);
    }
    std::sort(pool.begin(), pool.end());
    adj[j] = RobustPrune(base, d, std::move(pool), cap);
  }
  ds->graph.Reset(n, r);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint32_t>& nbrs = adj[i];
    for (uint32_t e = 0; e < random_edges && nbrs.size() < std::min<size_t>(r, n - 1); ++e) {
      const auto v = static_cast<uint32_t>(rng() % n);
      if (v != i && std::find(nbrs.begin(), nbrs.end(), v) == nbrs.end()) nbrs.push_back(v);
    }
    ds->graph.SetNeighbors(i, nbrs);
  }
  std::vector<float> centroid(ds->d, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < ds->d; ++j) centroid[j] += base[i * ds->d + j] / static_cast<float>(n);
  }
  float best = INFINITY;
  for (size_t i = 0; i < n; ++i) {
    const float dd = Kernels().l2_sqr_f32(centroid.data(), base.data() + i * ds->d, ds->d);
    if (dd < best) {
      best = dd;
      ds->graph.medoid = static_cast<uint32_t>(i);
    }
  }
}

void ComputeTruth(Data* ds) {
  const std::vector<float> base =
      ds->metric == Metric::kCosine ? Normalized(ds->rows, ds->d) : ds->rows;
  const std::vector<float> qs =
      ds->metric == Metric::kCosine ? Normalized(ds->queries, ds->d) : ds->queries;
  std::vector<float> dist;
  std::vector<uint32_t> order(ds->n);
  ds->truth.clear();
  for (size_t q = 0; q < ds->nq; ++q) {
    AllDistances(*ds, base, qs.data() + q * ds->d, &dist);
    std::iota(order.begin(), order.end(), 0u);
    std::partial_sort(order.begin(), order.begin() + kK, order.end(), [&](uint32_t a, uint32_t b) {
      return dist[a] < dist[b] || (dist[a] == dist[b] && a < b);
    });
    ds->truth.emplace_back(order.begin(), order.begin() + kK);
  }
}

Data MakeClusteredData(size_t n, size_t d, Metric metric, uint32_t r, size_t nq, uint64_t seed) {
  Data ds;
  ds.n = n;
  ds.d = d;
  ds.metric = metric;
  ds.nq = nq;
  const std::vector<float> all = Clustered(n + nq, d, std::max<size_t>(4, n / 100), seed);
  ds.rows.assign(all.begin(), all.begin() + static_cast<long>(n * d));
  ds.queries.assign(all.begin() + static_cast<long>(n * d), all.end());
  BuildGraph(&ds, r, 4, seed + 1);
  ComputeTruth(&ds);
  return ds;
}

// ---- metadata -------------------------------------------------------------------------------

// External ids scrambled by an odd multiplier (a bijection on u64), attrs on every third node,
// payloads of varied length (some spanning pages) on every fifth.
struct TestMeta final : NodeMetaSource {
  std::vector<uint64_t> ids;
  std::vector<std::optional<uint64_t>> attrs;
  std::vector<std::string> payloads;

  static TestMeta Scrambled(size_t n) {
    TestMeta m;
    for (size_t i = 0; i < n; ++i) {
      m.ids.push_back((i + 1) * 0x9e3779b97f4a7c15ull);
      m.attrs.push_back(i % 3 == 0 ? std::optional<uint64_t>(i * 1000 + 7) : std::nullopt);
      std::string p;
      if (i % 5 == 0) {
        const size_t len = (i * 37) % 50 + (i % 100 == 0 ? 9000 : 0);
        for (size_t j = 0; j < len; ++j) p.push_back(static_cast<char>('a' + (i + j) % 26));
      }
      m.payloads.push_back(std::move(p));
    }
    return m;
  }
  // id = node: the acceptor test filters by parity.
  static TestMeta Identity(size_t n) {
    TestMeta m;
    for (size_t i = 0; i < n; ++i) m.ids.push_back(i);
    m.attrs.resize(n);
    m.payloads.resize(n);
    return m;
  }

  Status Meta(size_t node, NodeMeta* meta, std::string* payload) const override {
    meta->id = ids[node];
    meta->has_attr = attrs[node].has_value();
    meta->attr = attrs[node].value_or(0);
    meta->payload_bytes = static_cast<uint32_t>(payloads[node].size());
    *payload = payloads[node];
    return Status::Ok();
  }
};

// ---- helpers --------------------------------------------------------------------------------

std::unique_ptr<Quantizer> MakeNav(QuantKind kind, const Data& ds, float fixed_range = 0) {
  QuantizerParams p;
  p.int8_fixed_range = fixed_range;
  auto q = MakeQuantizer(kind, ds.d, ds.metric, p);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  std::unique_ptr<Quantizer> nav = std::move(q).value();
  if (!nav->is_trained()) {
    EXPECT_TRUE(nav->Train(ds.rows.data(), ds.n).ok());
  }
  return nav;
}

Status Write(const std::string& path, const Data& ds, const Quantizer& nav, const TestMeta& meta) {
  SpanRowSource rows(ds.rows, ds.d);
  DiskWriteOptions o;
  o.metric = ds.metric;
  o.nav = &nav;
  return WriteDiskIndex(platform::Env::Default(), path, rows, ds.graph, meta, o);
}

std::unique_ptr<DiskIndex> OpenOrDie(const std::string& path, DiskIndexOptions o = {}) {
  auto idx = DiskIndex::Open(platform::Env::Default(), path, o);
  EXPECT_TRUE(idx.ok()) << idx.status().ToString();
  return idx.ok() ? std::move(idx).value() : nullptr;
}

using Results = std::vector<std::vector<DiskHit>>;

Results SearchAll(const DiskIndex& idx, const Data& ds, DiskSearchParams p = {},
                  const NodeAcceptor* accept = nullptr) {
  Results all(ds.nq);
  for (size_t q = 0; q < ds.nq; ++q) {
    const Status s = idx.Search(ds.queries.data() + q * ds.d, p, accept, &all[q]);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return all;
}

double Recall(const Results& res, const std::vector<std::vector<uint32_t>>& truth) {
  size_t hit = 0, total = 0;
  for (size_t q = 0; q < res.size(); ++q) {
    const std::unordered_set<uint32_t> t(truth[q].begin(), truth[q].begin() + kK);
    for (const DiskHit& h : res[q]) hit += t.count(h.node);
    total += kK;
  }
  return static_cast<double>(hit) / static_cast<double>(total);
}

void ExpectSame(const Results& a, const Results& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t q = 0; q < a.size(); ++q) {
    ASSERT_EQ(a[q].size(), b[q].size()) << "query " << q;
    for (size_t i = 0; i < a[q].size(); ++i) {
      EXPECT_EQ(a[q][i].node, b[q][i].node) << "query " << q << " rank " << i;
      EXPECT_EQ(a[q][i].id, b[q][i].id);
      EXPECT_EQ(a[q][i].dist, b[q][i].dist);
    }
  }
}

// Flips one byte of the file at `offset`.
void FlipByte(const std::string& path, uint64_t offset) {
  platform::OpenOptions o;
  o.read_only = false;
  auto f = platform::Env::Default()->OpenFile(path, o);
  ASSERT_TRUE(f.ok());
  char c = 0;
  ASSERT_EQ(*(*f)->ReadAt(offset, 1, &c), 1u);
  c = static_cast<char>(c ^ 0x5a);
  const std::string_view v(&c, 1);
  ASSERT_TRUE((*f)->WriteAt(offset, {&v, 1}).ok());
}

void CopyFile(const std::string& from, const std::string& to) {
  auto bytes = platform::ReadFileToString(platform::Env::Default(), from);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(platform::WriteFileAtomic(platform::Env::Default(), to, *bytes).ok());
}

// ---- round trip -----------------------------------------------------------------------------

void CheckRoundTrip(const Data& ds, const TestMeta& meta, const DiskIndex& idx) {
  std::vector<float> v(ds.d);
  NodeMeta m;
  std::string payload;
  for (uint32_t i = 0; i < ds.n; ++i) {
    ASSERT_TRUE(idx.ReadVector(i, v.data()).ok());
    ASSERT_TRUE(std::equal(v.begin(), v.end(), ds.rows.begin() + static_cast<long>(i * ds.d)))
        << "node " << i;
    ASSERT_TRUE(idx.ReadMeta(i, &m, &payload).ok());
    EXPECT_EQ(m.id, meta.ids[i]);
    EXPECT_EQ(m.has_attr, meta.attrs[i].has_value());
    EXPECT_EQ(m.attr, meta.attrs[i].value_or(0));
    EXPECT_EQ(m.payload_bytes, meta.payloads[i].size());
    EXPECT_EQ(payload, meta.payloads[i]) << "node " << i;
    auto found = idx.FindNode(meta.ids[i]);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_EQ(*found, i);
  }
  const std::unordered_set<uint64_t> present(meta.ids.begin(), meta.ids.end());
  const uint64_t probes[] = {
      0, 1, 2, UINT64_MAX, UINT64_MAX - 1, meta.ids[0] + 1, meta.ids[0] - 1, 12345678901234567ull};
  for (uint64_t id : probes) {
    if (present.count(id)) continue;
    auto found = idx.FindNode(id);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(*found, kNoNode) << id;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 500; ++i) {
    const uint64_t id = rng();
    if (present.count(id)) continue;
    EXPECT_EQ(*idx.FindNode(id), kNoNode);
  }
  EXPECT_EQ(idx.ReadVector(static_cast<uint32_t>(ds.n), v.data()).code(),
            StatusCode::kInvalidArgument);

  // Sequential readers for a merge.
  auto g = idx.LoadGraph();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->degree, ds.graph.degree);
  EXPECT_EQ(g->medoid, ds.graph.medoid);
  EXPECT_EQ(g->counts, ds.graph.counts);
  for (size_t i = 0; i < ds.n; ++i) {
    const auto a = g->Neighbors(i), b = ds.graph.Neighbors(i);
    ASSERT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << "node " << i;
  }
  std::unique_ptr<RowSource> rows = idx.Rows();
  ASSERT_EQ(rows->size(), ds.n);
  ASSERT_EQ(rows->dim(), ds.d);
  std::vector<float> all(ds.n * ds.d);
  ASSERT_TRUE(rows->ReadRows(0, ds.n, all.data()).ok());
  EXPECT_EQ(all, ds.rows);
  std::vector<float> some(3 * ds.d);
  ASSERT_TRUE(rows->ReadRows(ds.n - 3, 3, some.data()).ok());
  EXPECT_TRUE(std::equal(some.begin(), some.end(), ds.rows.end() - static_cast<long>(3 * ds.d)));
  EXPECT_EQ(rows->ReadRows(ds.n - 1, 2, some.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(idx.Verify().ok());
}

TEST(DiskIndexTest, RoundTripEveryField) {
  testing::TempDir dir;
  const Data ds = MakeClusteredData(1200, 24, Metric::kL2, 16, 0, 1);
  const TestMeta meta = TestMeta::Scrambled(ds.n);
  auto nav = MakeNav(QuantKind::kTq4, ds);
  const std::string path = dir.Sub("a.vidx");
  std::vector<std::pair<std::string, uint64_t>> progress;
  {
    SpanRowSource rows(ds.rows, ds.d);
    DiskWriteOptions o;
    o.metric = ds.metric;
    o.nav = nav.get();
    o.progress = [&](std::string_view phase, uint64_t done, uint64_t total) {
      EXPECT_EQ(total, ds.n);
      progress.emplace_back(std::string(phase), done);
    };
    ASSERT_TRUE(WriteDiskIndex(platform::Env::Default(), path, rows, ds.graph, meta, o).ok());
  }
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front().first, "encode");
  EXPECT_EQ(progress.back(), std::make_pair(std::string("write"), uint64_t{ds.n}));
  auto idx = OpenOrDie(path);
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(idx->size(), ds.n);
  EXPECT_EQ(idx->dim(), ds.d);
  EXPECT_EQ(idx->metric(), Metric::kL2);
  EXPECT_EQ(idx->degree(), 16u);
  EXPECT_EQ(idx->medoid(), ds.graph.medoid);
  EXPECT_EQ(idx->nav_quantizer().kind(), QuantKind::kTq4);
  EXPECT_EQ(idx->file_bytes() % 4096, 0u);
  EXPECT_EQ(*platform::Env::Default()->FileSize(path), idx->file_bytes());
  CheckRoundTrip(ds, meta, *idx);
  // Same through a cache (first pass fills it, second hits it).
  storage::PageCache cache(4 << 20);
  DiskIndexOptions o;
  o.cache = &cache;
  auto cached = OpenOrDie(path, o);
  CheckRoundTrip(ds, meta, *cached);
  CheckRoundTrip(ds, meta, *cached);
  EXPECT_GT(cached->io_stats().cache_hits, 0u);
}

TEST(DiskIndexTest, WriterRejectsBadInputs) {
  testing::TempDir dir;
  Data ds = MakeClusteredData(300, 8, Metric::kL2, 8, 0, 2);
  TestMeta meta = TestMeta::Identity(ds.n);
  auto nav = MakeNav(QuantKind::kTq2, ds);
  SpanRowSource rows(ds.rows, ds.d);
  DiskWriteOptions o;
  o.metric = ds.metric;
  auto* env = platform::Env::Default();
  const std::string path = dir.Sub("x.vidx");

  EXPECT_EQ(WriteDiskIndex(env, path, rows, ds.graph, meta, o).code(),
            StatusCode::kInvalidArgument);  // no navigation quantizer
  o.nav = nav.get();
  o.metric = Metric::kCosine;
  EXPECT_EQ(WriteDiskIndex(env, path, rows, ds.graph, meta, o).code(),
            StatusCode::kInvalidArgument);  // metric mismatch
  o.metric = ds.metric;
  auto untrained = std::move(MakeQuantizer(QuantKind::kPq, ds.d, ds.metric)).value();
  o.nav = untrained.get();
  EXPECT_EQ(WriteDiskIndex(env, path, rows, ds.graph, meta, o).code(),
            StatusCode::kInvalidArgument);
  o.nav = nav.get();
  Graph bad = ds.graph;
  bad.neighbors[3] = static_cast<uint32_t>(ds.n);
  bad.counts[0] = std::max<uint32_t>(bad.counts[0], 4);
  EXPECT_EQ(WriteDiskIndex(env, path, rows, bad, meta, o).code(), StatusCode::kInvalidArgument);
  bad = ds.graph;
  bad.medoid = kNoNode;
  EXPECT_EQ(WriteDiskIndex(env, path, rows, bad, meta, o).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(env->FileExists(path));

  TestMeta dup = meta;
  dup.ids[17] = dup.ids[200];
  const Status s = WriteDiskIndex(env, path, rows, ds.graph, dup, o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("duplicate external id 200"), std::string_view::npos) << s.ToString();
  EXPECT_FALSE(env->FileExists(path));  // the partial file was removed

  ASSERT_TRUE(WriteDiskIndex(env, path, rows, ds.graph, meta, o).ok());
  EXPECT_EQ(WriteDiskIndex(env, path, rows, ds.graph, meta, o).code(), StatusCode::kAlreadyExists);
}

TEST(DiskIndexTest, EmptyIndex) {
  testing::TempDir dir;
  Data ds;
  ds.d = 16;
  ds.metric = Metric::kCosine;
  ds.graph.Reset(0, 8);
  auto nav = std::move(MakeQuantizer(QuantKind::kTq2, ds.d, ds.metric)).value();
  ASSERT_TRUE(Write(dir.Sub("e.vidx"), ds, *nav, TestMeta{}).ok());
  auto idx = OpenOrDie(dir.Sub("e.vidx"));
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(idx->size(), 0u);
  EXPECT_EQ(idx->medoid(), kNoNode);
  EXPECT_EQ(*idx->FindNode(5), kNoNode);
  std::vector<DiskHit> out{{1, 2, 3}};
  const std::vector<float> q(ds.d, 1.0f);
  ASSERT_TRUE(idx->Search(q.data(), {}, nullptr, &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(idx->Verify().ok());
  EXPECT_EQ(idx->LoadGraph()->size(), 0u);
}

// 180 000 nodes: a three-level id map (leaves hold 340 entries, inner pages 510 keys).
TEST(DiskIndexTest, ThreeLevelIdMap) {
  testing::TempDir dir;
  Data ds;
  ds.n = 180000;
  ds.d = 2;
  ds.metric = Metric::kL2;
  ds.rows.resize(ds.n * ds.d);
  for (size_t i = 0; i < ds.rows.size(); ++i) ds.rows[i] = static_cast<float>(i % 977);
  ds.graph.Reset(ds.n, 2);
  for (size_t i = 0; i < ds.n; ++i) {
    const uint32_t nb[] = {static_cast<uint32_t>((i + 1) % ds.n),
                           static_cast<uint32_t>((i + ds.n - 1) % ds.n)};
    ds.graph.SetNeighbors(i, nb);
  }
  ds.graph.medoid = 0;
  TestMeta meta;
  for (size_t i = 0; i < ds.n; ++i) meta.ids.push_back((i * 2 + 1) * 0x2545f4914f6cdd1dull);
  meta.attrs.resize(ds.n);
  meta.payloads.resize(ds.n);
  auto nav = MakeNav(QuantKind::kBinary, ds);
  ASSERT_TRUE(Write(dir.Sub("big.vidx"), ds, *nav, meta).ok());
  storage::PageCache cache(16 << 20);
  DiskIndexOptions o;
  o.cache = &cache;
  auto idx = OpenOrDie(dir.Sub("big.vidx"), o);
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(idx->record_bytes(), 64u);  // 40 + 8 + 8 + 2 * 1 + 4 = 62, rounded up to 8
  for (size_t i = 0; i < ds.n; i += kSlowBuild ? 97 : 13) {
    ASSERT_EQ(*idx->FindNode(meta.ids[i]), i);
  }
  EXPECT_EQ(*idx->FindNode(meta.ids.back()), ds.n - 1);
  const std::unordered_set<uint64_t> present(meta.ids.begin(), meta.ids.end());
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t id = rng();
    if (!present.count(id)) {
      ASSERT_EQ(*idx->FindNode(id), kNoNode);
    }
  }
  EXPECT_EQ(*idx->FindNode(0), kNoNode);
  EXPECT_EQ(*idx->FindNode(UINT64_MAX), kNoNode);
  EXPECT_TRUE(idx->Verify().ok());
}

// ---- search ---------------------------------------------------------------------------------

// Clustered data shared by the search tests (the exact graph is the slow part to build).
const Data& ClusteredL2() {
  static const Data ds = MakeClusteredData(kSlowBuild ? 2000 : 4000, 32, Metric::kL2, 32, 100, 11);
  return ds;
}
const Data& ClusteredCosine() {
  static const Data ds =
      MakeClusteredData(kSlowBuild ? 2000 : 4000, 48, Metric::kCosine, 32, 100, 12);
  return ds;
}

TEST(DiskIndexTest, SearchRecallClustered) {
  testing::TempDir dir;
  for (const Data* ds : {&ClusteredL2(), &ClusteredCosine()}) {
    auto nav = MakeNav(QuantKind::kTq4, *ds);
    const std::string path = dir.Sub(std::string("c") + std::string(MetricName(ds->metric)));
    ASSERT_TRUE(Write(path, *ds, *nav, TestMeta::Identity(ds->n)).ok());
    auto idx = OpenOrDie(path);
    ASSERT_NE(idx, nullptr);
    const Results res = SearchAll(*idx, *ds);
    const double recall = Recall(res, ds->truth);
    std::printf("[recall] clustered %s n=%zu d=%zu tq4 L=100 W=4: %.4f\n",
                std::string(MetricName(ds->metric)).c_str(), ds->n, ds->d, recall);
    EXPECT_GE(recall, 0.95);
    // Distances follow FlatIndex's convention and come best first.
    for (size_t q = 0; q < ds->nq; ++q) {
      ASSERT_EQ(res[q].size(), kK);
      for (size_t i = 0; i < res[q].size(); ++i) {
        const float ref = RefDistance(ds->metric, ds->queries.data() + q * ds->d,
                                      ds->rows.data() + res[q][i].node * ds->d, ds->d);
        EXPECT_NEAR(res[q][i].dist, ref, 1e-4f * std::max(1.0f, std::fabs(ref)));
        EXPECT_EQ(res[q][i].id, res[q][i].node);
        if (i > 0) {
          EXPECT_LE(res[q][i - 1].dist, res[q][i].dist);
        }
      }
    }
    // k > l_search: L is raised to k. k = 0: nothing.
    std::vector<DiskHit> out;
    DiskSearchParams p;
    p.k = 50;
    p.l_search = 10;
    ASSERT_TRUE(idx->Search(ds->queries.data(), p, nullptr, &out).ok());
    EXPECT_EQ(out.size(), 50u);
    p.k = 0;
    ASSERT_TRUE(idx->Search(ds->queries.data(), p, nullptr, &out).ok());
    EXPECT_TRUE(out.empty());
    p.k = 10;
    p.l_search = kMaxDiskListSize + 1;
    EXPECT_EQ(idx->Search(ds->queries.data(), p, nullptr, &out).code(),
              StatusCode::kInvalidArgument);
    p.l_search = 100;
    p.beam_width = 0;  // clamped to 1
    ASSERT_TRUE(idx->Search(ds->queries.data(), p, nullptr, &out).ok());
    EXPECT_EQ(out.size(), 10u);
  }
}

TEST(DiskIndexTest, InnerProductDistances) {
  testing::TempDir dir;
  Data ds = MakeClusteredData(600, 16, Metric::kInnerProduct, 16, 20, 5);
  auto nav = MakeNav(QuantKind::kInt8, ds);
  ASSERT_TRUE(Write(dir.Sub("ip"), ds, *nav, TestMeta::Identity(ds.n)).ok());
  auto idx = OpenOrDie(dir.Sub("ip"));
  ASSERT_NE(idx, nullptr);
  DiskSearchParams p;
  p.l_search = 200;
  const Results res = SearchAll(*idx, ds, p);
  for (size_t q = 0; q < ds.nq; ++q) {
    for (const DiskHit& h : res[q]) {
      const float ref = RefDistance(ds.metric, ds.queries.data() + q * ds.d,
                                    ds.rows.data() + h.node * ds.d, ds.d);
      EXPECT_NEAR(h.dist, ref, 1e-4f * std::max(1.0f, std::fabs(ref)));
    }
  }
  EXPECT_GE(Recall(res, ds.truth), 0.9);
}

// Every navigation-code kind opens and searches. Thresholds: the measured recall minus a margin.
TEST(DiskIndexTest, EveryNavigationKind) {
  testing::TempDir dir;
  const Data& ds = ClusteredCosine();
  struct Case {
    QuantKind kind;
    float fixed_range;
    double min_recall;
  };
  const Case cases[] = {{QuantKind::kInt8, 0, 0.95},   {QuantKind::kInt8, 4.0f, 0.95},
                        {QuantKind::kBinary, 0, 0.90}, {QuantKind::kTq1, 0, 0.90},
                        {QuantKind::kTq2, 0, 0.95},    {QuantKind::kTq4, 0, 0.95},
                        {QuantKind::kPq, 0, 0.95}};
  for (const Case& c : cases) {
    auto nav = MakeNav(c.kind, ds, c.fixed_range);
    const std::string name = std::string(QuantKindName(c.kind)) + (c.fixed_range > 0 ? "f" : "");
    const std::string path = dir.Sub(name);
    ASSERT_TRUE(Write(path, ds, *nav, TestMeta::Identity(ds.n)).ok()) << name;
    auto idx = OpenOrDie(path);
    ASSERT_NE(idx, nullptr);
    EXPECT_EQ(idx->nav_quantizer().kind(), c.kind);
    const double recall = Recall(SearchAll(*idx, ds), ds.truth);
    std::printf("[recall] clustered cosine nav=%s record=%u bytes: %.4f\n", name.c_str(),
                idx->record_bytes(), recall);
    EXPECT_GE(recall, c.min_recall) << name;
  }
}

class RejectEven final : public NodeAcceptor {
 public:
  bool Accept(uint32_t node, const NodeMeta& meta) const override {
    EXPECT_EQ(meta.id, node);
    calls.fetch_add(1);
    return meta.id % 2 == 1;
  }
  mutable std::atomic<uint64_t> calls{0};
};

TEST(DiskIndexTest, AcceptorRejectsEvenIds) {
  testing::TempDir dir;
  const Data& ds = ClusteredL2();
  auto nav = MakeNav(QuantKind::kTq4, ds);
  ASSERT_TRUE(Write(dir.Sub("acc"), ds, *nav, TestMeta::Identity(ds.n)).ok());
  auto idx = OpenOrDie(dir.Sub("acc"));
  ASSERT_NE(idx, nullptr);
  RejectEven accept;
  DiskSearchParams p;
  p.l_search = 150;
  const Results res = SearchAll(*idx, ds, p, &accept);
  EXPECT_GT(accept.calls.load(), 0u);
  // Truth among odd nodes only.
  Data odd = ds;
  for (size_t q = 0; q < ds.nq; ++q) {
    std::vector<std::pair<float, uint32_t>> all;
    for (uint32_t i = 1; i < ds.n; i += 2) {
      all.emplace_back(RefDistance(ds.metric, ds.queries.data() + q * ds.d,
                                   ds.rows.data() + size_t{i} * ds.d, ds.d),
                       i);
    }
    std::partial_sort(all.begin(), all.begin() + kK, all.end());
    odd.truth[q].clear();
    for (size_t i = 0; i < kK; ++i) odd.truth[q].push_back(all[i].second);
    ASSERT_EQ(res[q].size(), kK);
    for (const DiskHit& h : res[q]) EXPECT_EQ(h.id % 2, 1u);
  }
  const double recall = Recall(res, odd.truth);
  std::printf("[recall] odd ids only: %.4f\n", recall);
  EXPECT_GE(recall, 0.9);
}

TEST(DiskIndexTest, IoVariantsGiveIdenticalResults) {
  testing::TempDir dir;
  const Data& ds = ClusteredL2();
  auto nav = MakeNav(QuantKind::kTq2, ds);
  const std::string path = dir.Sub("io");
  ASSERT_TRUE(Write(path, ds, *nav, TestMeta::Identity(ds.n)).ok());

  DiskIndexOptions base;  // direct, io_uring preferred, no cache
  auto a = OpenOrDie(path, base);
  ASSERT_NE(a, nullptr);
  const Results ra = SearchAll(*a, ds);
  std::printf("[io] backend=%s direct_io=%d\n", std::string(a->io_backend()).c_str(),
              a->direct_io());

  DiskIndexOptions pread = base;
  pread.prefer_io_uring = false;
  auto b = OpenOrDie(path, pread);
  EXPECT_EQ(b->io_backend(), "pread");
  ExpectSame(ra, SearchAll(*b, ds));

  DiskIndexOptions buffered = base;
  buffered.direct_io = false;
  auto c = OpenOrDie(path, buffered);
  EXPECT_FALSE(c->direct_io());
  ExpectSame(ra, SearchAll(*c, ds));

  // tmpfs refuses O_DIRECT on older kernels (then the file is read buffered; newer kernels
  // accept it): the same results either way.
  if (platform::Env::Default()->FileExists("/dev/shm")) {
    const std::string shm = "/dev/shm/skeg_disk_index_test_" + std::to_string(::getpid());
    CopyFile(path, shm);
    auto t = OpenOrDie(shm, base);
    ASSERT_NE(t, nullptr);
    std::printf("[io] tmpfs direct_io=%d\n", t->direct_io());
    ExpectSame(ra, SearchAll(*t, ds));
    t.reset();
    platform::Env::Default()->RemoveFile(shm).IgnoreError();
  }

  // A cache of 64 pages (far smaller than the file) forces evictions.
  storage::PageCache cache(
      64 * (storage::PageCache::kPageSize + storage::PageCache::kEntryOverheadBytes));
  DiskIndexOptions cached = base;
  cached.cache = &cache;
  auto d = OpenOrDie(path, cached);
  ExpectSame(ra, SearchAll(*d, ds));
  ExpectSame(ra, SearchAll(*d, ds));
  const auto st = d->io_stats();
  EXPECT_GT(st.cache_hits, 0u);
  EXPECT_GT(st.cache_misses, 0u);
  EXPECT_GT(cache.stats().evictions, 0u);
  EXPECT_EQ(a->io_stats().cache_hits, 0u);
  EXPECT_GT(a->io_stats().reads, 0u);
  EXPECT_EQ(a->io_stats().bytes_read, a->io_stats().reads * 4096);

  // A big cache: the second pass is served from it.
  storage::PageCache big(64 << 20);
  DiskIndexOptions bigo = base;
  bigo.cache = &big;
  auto e = OpenOrDie(path, bigo);
  ExpectSame(ra, SearchAll(*e, ds));
  const uint64_t reads_after_first = e->io_stats().reads;
  ExpectSame(ra, SearchAll(*e, ds));
  EXPECT_EQ(e->io_stats().reads, reads_after_first);
  // Closing the index drops its pages.
  EXPECT_GT(big.stats().pages, 0u);
  e.reset();
  EXPECT_EQ(big.stats().pages, 0u);
}

TEST(DiskIndexTest, ConcurrentSearchesMatchSingleThread) {
  testing::TempDir dir;
  const Data& ds = ClusteredCosine();
  auto nav = MakeNav(QuantKind::kTq2, ds);
  ASSERT_TRUE(Write(dir.Sub("mt"), ds, *nav, TestMeta::Identity(ds.n)).ok());
  storage::PageCache cache(256 * 4096);
  DiskIndexOptions o;
  o.cache = &cache;
  auto idx = OpenOrDie(dir.Sub("mt"), o);
  ASSERT_NE(idx, nullptr);
  const Results single = SearchAll(*idx, ds);
  std::vector<Results> per(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < per.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 2; ++rep) per[t] = SearchAll(*idx, ds);
    });
  }
  for (auto& th : threads) th.join();
  for (const Results& r : per) ExpectSame(single, r);
  // Scratch pool: O(1) in n (one scratch per concurrent caller).
  EXPECT_LT(idx->MemoryUsage(), size_t{4} << 20);
}

// ---- layouts --------------------------------------------------------------------------------

TEST(DiskIndexTest, PackedSmallRecords) {
  testing::TempDir dir;
  Data ds = MakeClusteredData(1500, 8, Metric::kL2, 8, 50, 21);
  auto nav = MakeNav(QuantKind::kInt8, ds);
  const TestMeta meta = TestMeta::Scrambled(ds.n);
  ASSERT_TRUE(Write(dir.Sub("p"), ds, *nav, meta).ok());
  auto idx = OpenOrDie(dir.Sub("p"));
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(idx->record_bytes(), 176u);  // 40 + 32 + 32 + 8 * 8 + 4, rounded up to 8
  EXPECT_EQ(idx->nodes_per_sector(), 23u);
  EXPECT_EQ(idx->sectors_per_node(), 1u);
  CheckRoundTrip(ds, meta, *idx);
  DiskSearchParams p;
  p.l_search = 64;
  const double recall = Recall(SearchAll(*idx, ds, p), ds.truth);
  std::printf("[recall] packed d=8 R=8: %.4f\n", recall);
  EXPECT_GE(recall, 0.9);
}

TEST(DiskIndexTest, MultiSectorRecords) {
  testing::TempDir dir;
  Data ds = MakeClusteredData(kSlowBuild ? 800 : 1500, 512, Metric::kCosine, 64, 40, 31);
  auto nav = MakeNav(QuantKind::kTq2, ds);
  const TestMeta meta = TestMeta::Scrambled(ds.n);
  ASSERT_TRUE(Write(dir.Sub("m"), ds, *nav, meta).ok());
  auto idx = OpenOrDie(dir.Sub("m"));
  ASSERT_NE(idx, nullptr);
  // 40 + 2048 + 256 + 64 * 132 + 4 = 10796 -> 10800: three sectors per node.
  EXPECT_EQ(idx->record_bytes(), 10800u);
  EXPECT_EQ(idx->nodes_per_sector(), 1u);
  EXPECT_EQ(idx->sectors_per_node(), 3u);
  CheckRoundTrip(ds, meta, *idx);
  const Results plain = SearchAll(*idx, ds);
  const double recall = Recall(plain, ds.truth);
  std::printf("[recall] multi-sector d=512 R=64 tq2: %.4f\n", recall);
  EXPECT_GE(recall, 0.95);
  storage::PageCache cache(100 * 4096);
  DiskIndexOptions o;
  o.cache = &cache;
  auto cached = OpenOrDie(dir.Sub("m"), o);
  ExpectSame(plain, SearchAll(*cached, ds));
  ExpectSame(plain, SearchAll(*cached, ds));
}

// ---- corruption -----------------------------------------------------------------------------

TEST(DiskIndexTest, CorruptionIsDetected) {
  testing::TempDir dir;
  Data ds = MakeClusteredData(700, 16, Metric::kL2, 16, 5, 41);
  const TestMeta meta = TestMeta::Scrambled(ds.n);
  auto nav = MakeNav(QuantKind::kTq4, ds);
  const std::string good = dir.Sub("good");
  ASSERT_TRUE(Write(good, ds, *nav, meta).ok());
  auto idx = OpenOrDie(good);
  ASSERT_NE(idx, nullptr);
  const uint64_t file_bytes = idx->file_bytes();
  const uint32_t rec = idx->record_bytes();
  const uint32_t nps = idx->nodes_per_sector();
  const uint32_t medoid = idx->medoid();
  // Section starts, from the header layout (docs/formats/vamana.md).
  std::string header = *platform::ReadFileToString(platform::Env::Default(), good);
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, header.data() + at, 8);
    return v;
  };
  const uint64_t nodes_off = u64(56 + 24), idmap_off = u64(56 + 48), payload_off = u64(56 + 72);
  idx.reset();
  int n_case = 0;
  auto corrupt_copy = [&](uint64_t offset) {
    const std::string p = dir.Sub("bad" + std::to_string(n_case++));
    CopyFile(good, p);
    FlipByte(p, offset);
    return p;
  };
  auto expect_corruption = [](const Status& s, std::string_view what) {
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << what << ": " << s.ToString();
  };

  // Header byte: Open fails.
  for (uint64_t at : {0, 12, 30, 100, 252}) {
    expect_corruption(DiskIndex::Open(platform::Env::Default(), corrupt_copy(at), {}).status(),
                      "header");
  }
  // Navigation section: Open fails.
  expect_corruption(DiskIndex::Open(platform::Env::Default(), corrupt_copy(4096 + 10), {}).status(),
                    "navigation");

  // The medoid's record: every search, ReadVector and ReadMeta of it fail, naming the node.
  {
    const uint64_t at = nodes_off + (medoid / nps) * 4096 + (medoid % nps) * rec + 50;
    const std::string p = corrupt_copy(at);
    auto bad = OpenOrDie(p);
    std::vector<DiskHit> out;
    const Status s = bad->Search(ds.queries.data(), {}, nullptr, &out);
    expect_corruption(s, "search");
    EXPECT_NE(s.message().find("node " + std::to_string(medoid)), std::string_view::npos)
        << s.ToString();
    EXPECT_NE(s.message().find(p), std::string_view::npos) << s.ToString();
    EXPECT_TRUE(out.empty());
    std::vector<float> v(ds.d);
    expect_corruption(bad->ReadVector(medoid, v.data()), "read vector");
    NodeMeta m;
    expect_corruption(bad->ReadMeta(medoid, &m, nullptr), "read meta");
    expect_corruption(bad->LoadGraph().status(), "load graph");
    expect_corruption(bad->Verify(), "verify");
    // Other nodes still read fine.
    EXPECT_TRUE(bad->ReadVector(medoid == 0 ? 1 : 0, v.data()).ok());
  }
  // An id-map page: FindNode of an id on it fails.
  {
    auto bad = OpenOrDie(corrupt_copy(idmap_off + 20));
    uint64_t min_id = *std::min_element(meta.ids.begin(), meta.ids.end());
    expect_corruption(bad->FindNode(min_id).status(), "find node");
    expect_corruption(bad->Verify(), "verify id map");
  }
  // A payload byte: ReadMeta with the payload fails, without it succeeds.
  {
    auto bad = OpenOrDie(corrupt_copy(payload_off));
    NodeMeta m;
    std::string payload;
    size_t first = 0;
    while (meta.payloads[first].empty()) ++first;
    EXPECT_TRUE(bad->ReadMeta(static_cast<uint32_t>(first), &m, nullptr).ok());
    expect_corruption(bad->ReadMeta(static_cast<uint32_t>(first), &m, &payload), "payload");
    expect_corruption(bad->Verify(), "verify payload");
  }
  // Truncated files.
  for (uint64_t len :
       {uint64_t{0}, uint64_t{100}, uint64_t{4096}, file_bytes / 2, file_bytes - 4096}) {
    const std::string p = dir.Sub("trunc" + std::to_string(len));
    CopyFile(good, p);
    platform::OpenOptions o;
    o.read_only = false;
    ASSERT_TRUE((*platform::Env::Default()->OpenFile(p, o))->Truncate(len).ok());
    expect_corruption(DiskIndex::Open(platform::Env::Default(), p, {}).status(), "truncated");
  }
  // Random single-byte flips in the node records and the id map: never a crash, searches
  // either succeed or report corruption, and Verify reports every flip (every byte there is
  // under a section CRC; flips in padding are harmless to the point reads).
  std::mt19937_64 rng(9);
  const int flips = kSlowBuild ? 20 : 60;
  for (int i = 0; i < flips; ++i) {
    const std::string p = corrupt_copy(nodes_off + rng() % (payload_off - nodes_off));
    auto opened = DiskIndex::Open(platform::Env::Default(), p, {});
    if (!opened.ok()) {
      expect_corruption(opened.status(), "random flip at open");
      continue;
    }
    std::vector<DiskHit> out;
    for (size_t q = 0; q < ds.nq; ++q) {
      const Status s = (*opened)->Search(ds.queries.data() + q * ds.d, {}, nullptr, &out);
      if (!s.ok()) expect_corruption(s, "random flip search");
    }
    expect_corruption((*opened)->Verify(), "random flip verify");
    platform::Env::Default()->RemoveFile(p).IgnoreError();
  }
}

// ---- shared datasets ------------------------------------------------------------------------

void RunDataset(const char* name, Metric metric, QuantKind kind, uint32_t r, bool use_gt) {
  skeg::testing::CosineDataset raw;
  // Sanitizer builds take the first 2 000 rows (the exact graph is quadratic to build).
  const size_t n = kSlowBuild ? 2000 : 5000;
  const size_t nq = kSlowBuild ? 50 : 100;
  if (!skeg::testing::LoadCosineDataset(name, n, nq, kK, use_gt && n == 5000, &raw)) {
    GTEST_SKIP() << name << " not available";
  }
  Data ds;
  ds.n = raw.n;
  ds.d = raw.d;
  ds.nq = raw.nq;
  ds.metric = metric;
  ds.rows = raw.base;
  ds.queries = raw.queries;
  BuildGraph(&ds, r, 4, 99);
  if (use_gt && ds.n == 5000) {
    ds.truth = raw.truth;
  } else {
    ComputeTruth(&ds);
  }
  testing::TempDir dir;
  auto nav = MakeNav(kind, ds);
  ASSERT_TRUE(Write(dir.Sub("ds"), ds, *nav, TestMeta::Identity(ds.n)).ok());
  for (const bool cached : {false, true}) {
    storage::PageCache cache(64 << 20);
    DiskIndexOptions o;
    o.cache = cached ? &cache : nullptr;
    auto idx = OpenOrDie(dir.Sub("ds"), o);
    ASSERT_NE(idx, nullptr);
    if (cached) SearchAll(*idx, ds);  // warm
    const auto before = idx->io_stats();
    const auto t0 = std::chrono::steady_clock::now();
    const Results res = SearchAll(*idx, ds);
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        static_cast<double>(ds.nq);
    const auto after = idx->io_stats();
    const double recall = Recall(res, ds.truth);
    std::printf(
        "[dataset] %s n=%zu d=%zu R=%u nav=%s record=%u L=100 W=4 %s: recall@10 %.4f, "
        "%.0f us/query, %.1f reads/query (backend %s, direct %d)\n",
        name, ds.n, ds.d, r, std::string(QuantKindName(kind)).c_str(), idx->record_bytes(),
        cached ? "warm cache" : "no cache", recall, us,
        static_cast<double>(after.reads - before.reads) / static_cast<double>(ds.nq),
        std::string(idx->io_backend()).c_str(), idx->direct_io());
    EXPECT_GE(recall, 0.95);
  }
}

TEST(DiskIndexTest, Sift5k) { RunDataset("sift-5k", Metric::kL2, QuantKind::kPq, 32, true); }

TEST(DiskIndexTest, Glove5kSubset) {
  RunDataset("glove-100-cosine", Metric::kCosine, QuantKind::kTq2, 64, false);
}

}  // namespace
}  // namespace skeg::index::vamana
