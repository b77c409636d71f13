// The disk backend through the Collection API: delta + tombstones + merges, restart, bulk load,
// read-only opening, and searches racing writes and merges. Small sizes (runs under ASan).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "index/collection/collection.h"
#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"
#include "testing/temp_dir.h"

namespace skeg::index {
namespace {

constexpr uint32_t kDim = 64;

// Data with neighbourhood structure, like real embeddings: points of an 8-dimensional latent
// space (8 clusters) mapped linearly into kDim dimensions, plus a little noise. (Isotropic noise in
// kDim dimensions has no near neighbours to speak of, which no quantized navigation can follow.)
std::vector<float> Row(uint64_t id) {
  static const std::vector<float> kMap = [] {
    std::mt19937 rng(42);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> m(kDim * 8);
    for (float& x : m) x = g(rng);
    return m;
  }();
  std::mt19937 rng(static_cast<uint32_t>(id * 2654435761u + 7));
  std::normal_distribution<float> g(0.0f, 1.0f);
  float z[8];
  for (int j = 0; j < 8; ++j) z[j] = g(rng) + (static_cast<uint64_t>(j) == id % 8 ? 4.0f : 0.0f);
  std::vector<float> v(kDim);
  for (uint32_t i = 0; i < kDim; ++i) {
    float x = 0.05f * g(rng);
    for (int j = 0; j < 8; ++j) x += kMap[i * 8 + static_cast<uint32_t>(j)] * z[j];
    v[i] = x;
  }
  return v;
}

float Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return static_cast<float>(dot / std::sqrt(na * nb));
}

// The exact top-k of `live` ids for q (cosine).
std::vector<uint64_t> Exact(const std::vector<uint64_t>& live, const std::vector<float>& q,
                            size_t k) {
  std::vector<std::pair<float, uint64_t>> all;
  for (uint64_t id : live) all.emplace_back(-Cosine(Row(id), q), id);
  std::sort(all.begin(), all.end());
  std::vector<uint64_t> out;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) out.push_back(all[i].second);
  return out;
}

class DiskBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.background_merge = false;
    options_.l_search = 64;
    Open();
  }

  void Open() {
    collection_.reset();
    if (store_) {
      ASSERT_TRUE(store_->Close().ok());
    }
    store_.reset();
    storage::StoreOptions so;
    so.data_dir = dir_.Sub("db");
    so.durability = storage::Durability::kRelaxed;
    so.background_compaction = false;
    auto store = storage::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    CollectionOptions co = options_;
    co.store = store_.get();
    co.index_dir = dir_.Sub("db") + "/indexes";
    co.cache = &cache_;
    auto c = Collection::Open(co);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    collection_ = std::move(*c);
  }

  void Create(std::string name, VectorKind kind = VectorKind::kTq2, uint32_t m = 16) {
    IndexSpec s;
    s.name = std::move(name);
    s.dim = kDim;
    s.kind = kind;
    s.backend = Backend::kDisk;
    s.m = m;
    s.ef_construction = 48;
    ASSERT_TRUE(collection_->Create(s).ok());
  }

  Status PutRange(std::string_view name, uint64_t begin, uint64_t end, bool with_meta = false) {
    std::vector<std::vector<float>> rows;
    std::vector<std::string> payloads;
    for (uint64_t id = begin; id < end; ++id) {
      rows.push_back(Row(id));
      payloads.push_back(with_meta ? "parity=" + std::to_string(id % 2) : "");
    }
    std::vector<VectorWrite> w;
    for (uint64_t id = begin; id < end; ++id) {
      VectorWrite v{id, rows[id - begin], payloads[id - begin], std::nullopt};
      if (with_meta) v.attr = id;
      w.push_back(v);
    }
    return collection_->Put(name, w);
  }

  std::vector<uint64_t> Ids(std::string_view name, const std::vector<float>& q, size_t k,
                            SearchOptions o = {}) {
    o.k = k;
    SearchResult r;
    const Status s = collection_->Search(name, q, o, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<uint64_t> ids;
    for (const SearchHit& h : r.hits) ids.push_back(h.id);
    return ids;
  }

  // Mean recall@10 of 20 queries against the live ids.
  double Recall(std::string_view name, const std::vector<uint64_t>& live) {
    double hits = 0;
    for (uint64_t qi = 0; qi < 20; ++qi) {
      const std::vector<float> q = Row(1000000 + qi);
      const std::vector<uint64_t> truth = Exact(live, q, 10);
      const std::vector<uint64_t> got = Ids(name, q, 10);
      for (uint64_t id : got) hits += std::count(truth.begin(), truth.end(), id);
    }
    return hits / 200.0;
  }

  IndexInfo Info(std::string_view name) {
    Result<IndexInfo> i = collection_->Info(name);
    EXPECT_TRUE(i.ok());
    return i.ok() ? *i : IndexInfo{};
  }

  ::skeg::testing::TempDir dir_;
  storage::PageCache cache_{1 << 20};
  CollectionOptions options_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Collection> collection_;
};

TEST_F(DiskBackendTest, DeltaThenMergeThenRestart) {
  Create("d");
  ASSERT_TRUE(PutRange("d", 0, 600).ok());
  std::vector<uint64_t> live(600);
  for (uint64_t i = 0; i < 600; ++i) live[i] = i;
  // Before any merge the delta is searched exactly.
  EXPECT_EQ(Recall("d", live), 1.0);
  EXPECT_EQ(Info("d").pending, 600u);
  EXPECT_EQ(Info("d").graph_version, 0u);
  const uint64_t ram_with_delta = Info("d").ram_bytes;
  EXPECT_GT(ram_with_delta, 600u * kDim * 4);  // the delta's f32 rows

  {
    const Status cs = collection_->Consolidate("d");
    ASSERT_TRUE(cs.ok()) << cs.ToString();
  }
  IndexInfo info = Info("d");
  // Everything was folded: the delta's memory is given back, not kept as capacity.
  EXPECT_LT(info.ram_bytes, 600u * kDim * 4 / 4) << ram_with_delta;
  EXPECT_EQ(info.graph_version, 1u);
  EXPECT_EQ(info.pending, 0u);
  EXPECT_EQ(info.n_vectors, 600u);
  EXPECT_GT(info.disk_bytes, 600u * kDim * 4);
  EXPECT_GE(Recall("d", live), 0.95);
  // The graph file holds the vectors exactly.
  for (uint64_t id : {0u, 17u, 599u}) {
    Result<std::optional<std::string>> v = collection_->Get("d", id);
    ASSERT_TRUE(v.ok() && v->has_value());
    const std::vector<float> want = Row(id);
    EXPECT_EQ(**v, std::string(reinterpret_cast<const char*>(want.data()), kDim * 4));
  }

  // Deletes of graph nodes become tombstones; replacements supersede graph nodes.
  for (uint64_t id = 0; id < 600; id += 5) {
    Result<bool> d = collection_->Delete("d", id);
    ASSERT_TRUE(d.ok() && *d);
  }
  EXPECT_FALSE(*collection_->Delete("d", 0));
  live.erase(std::remove_if(live.begin(), live.end(), [](uint64_t id) { return id % 5 == 0; }),
             live.end());
  ASSERT_TRUE(PutRange("d", 600, 700).ok());
  for (uint64_t id = 600; id < 700; ++id) live.push_back(id);
  info = Info("d");
  EXPECT_EQ(info.n_vectors, live.size());
  EXPECT_EQ(info.deleted, 120u);
  EXPECT_EQ(info.pending, 220u);
  for (uint64_t qi = 0; qi < 20; ++qi) {
    for (uint64_t id : Ids("d", Row(2000000 + qi), 50)) EXPECT_NE(id % 5 == 0 && id < 600, true);
  }
  EXPECT_FALSE(collection_->Get("d", 5)->has_value());
  EXPECT_GE(Recall("d", live), 0.95);

  // Restart with pending writes: the log replays them over graph version 1.
  const std::vector<uint64_t> before = Ids("d", Row(3000000), 10);
  Open();
  EXPECT_EQ(Info("d").pending, 220u);
  EXPECT_EQ(Info("d").n_vectors, live.size());
  EXPECT_EQ(Ids("d", Row(3000000), 10), before);

  // Second merge: version 2, nothing pending, same answers; files of version 1 are gone.
  {
    const Status cs = collection_->Consolidate("d");
    ASSERT_TRUE(cs.ok()) << cs.ToString();
  }
  info = Info("d");
  EXPECT_EQ(info.graph_version, 2u);
  EXPECT_EQ(info.pending, 0u);
  EXPECT_EQ(info.n_vectors, live.size());
  EXPECT_GE(Recall("d", live), 0.95);
  Open();
  EXPECT_EQ(Info("d").graph_version, 2u);
  EXPECT_EQ(Info("d").n_vectors, live.size());
  EXPECT_GE(Recall("d", live), 0.95);
}

TEST_F(DiskBackendTest, ReplaceSupersedesGraphNode) {
  Create("r");
  ASSERT_TRUE(PutRange("r", 0, 300).ok());
  ASSERT_TRUE(collection_->Consolidate("r").ok());
  // Id 7 gets id 1000's vector: a search near it finds 7 with the new vector's score.
  const std::vector<float> nv = Row(1000);
  VectorWrite w{7, nv, "", std::nullopt};
  ASSERT_TRUE(collection_->Put("r", std::span<const VectorWrite>(&w, 1)).ok());
  SearchOptions o;
  o.k = 300;
  SearchResult res;
  ASSERT_TRUE(collection_->Search("r", nv, o, &res).ok());
  ASSERT_FALSE(res.hits.empty());
  EXPECT_EQ(res.hits[0].id, 7u);
  EXPECT_NEAR(res.hits[0].score, 1.0f, 1e-5);
  EXPECT_EQ(
      std::count_if(res.hits.begin(), res.hits.end(), [](const SearchHit& h) { return h.id == 7; }),
      1);
  ASSERT_TRUE(collection_->Consolidate("r").ok());
  ASSERT_TRUE(collection_->Search("r", nv, o, &res).ok());
  EXPECT_EQ(res.hits[0].id, 7u);
  EXPECT_NEAR(res.hits[0].score, 1.0f, 1e-5);
  EXPECT_EQ(Info("r").n_vectors, 300u);
}

TEST_F(DiskBackendTest, FilterRangeAndPayloadsFromGraphAndDelta) {
  Create("f");
  ASSERT_TRUE(PutRange("f", 0, 400, /*with_meta=*/true).ok());
  ASSERT_TRUE(collection_->Consolidate("f").ok());
  ASSERT_TRUE(PutRange("f", 400, 450, /*with_meta=*/true).ok());  // stays in the delta
  Result<Filter> filter = Filter::Parse("parity = 1");
  ASSERT_TRUE(filter.ok());
  SearchOptions o;
  o.filter = &*filter;
  o.with_payload = true;
  o.k = 20;
  SearchResult res;
  ASSERT_TRUE(collection_->Search("f", Row(401), o, &res).ok());
  ASSERT_EQ(res.hits.size(), 20u);
  bool saw_delta = false;
  for (size_t i = 0; i < res.hits.size(); ++i) {
    EXPECT_EQ(res.hits[i].id % 2, 1u);
    ASSERT_TRUE(res.payloads[i].has_value());
    EXPECT_EQ(*res.payloads[i], "parity=1");
    saw_delta |= res.hits[i].id >= 400;
  }
  EXPECT_TRUE(saw_delta);
  SearchOptions range;
  range.has_range = true;
  range.range_lo = 100;
  range.range_hi = 120;
  for (uint64_t id : Ids("f", Row(105), 10, range)) {
    EXPECT_GE(id, 100u);
    EXPECT_LE(id, 120u);
  }
}

TEST_F(DiskBackendTest, DeleteEverythingThenReuse) {
  Create("e");
  ASSERT_TRUE(PutRange("e", 0, 100).ok());
  ASSERT_TRUE(collection_->Consolidate("e").ok());
  for (uint64_t id = 0; id < 100; ++id) ASSERT_TRUE(*collection_->Delete("e", id));
  EXPECT_EQ(Info("e").n_vectors, 0u);
  EXPECT_TRUE(Ids("e", Row(5), 10).empty());
  ASSERT_TRUE(collection_->Consolidate("e").ok());
  EXPECT_EQ(Info("e").graph_version, 0u);
  ASSERT_TRUE(PutRange("e", 50, 150).ok());
  ASSERT_TRUE(collection_->Consolidate("e").ok());
  EXPECT_EQ(Info("e").n_vectors, 100u);
  Open();
  EXPECT_EQ(Info("e").n_vectors, 100u);
  EXPECT_EQ(Ids("e", Row(60), 1), std::vector<uint64_t>{60});
}

TEST_F(DiskBackendTest, EveryKindNavigates) {
  for (VectorKind kind : {VectorKind::kF32, VectorKind::kInt8, VectorKind::kBinary,
                          VectorKind::kTq1, VectorKind::kTq4, VectorKind::kPq}) {
    const std::string name = "k" + std::to_string(static_cast<int>(kind));
    Create(name, kind);
    ASSERT_TRUE(PutRange(name, 0, 400).ok());
    ASSERT_TRUE(collection_->Consolidate(name).ok()) << name;
  }
  Open();  // every kind reopens as created
  std::vector<uint64_t> live(400);
  for (uint64_t i = 0; i < 400; ++i) live[i] = i;
  for (VectorKind kind : {VectorKind::kF32, VectorKind::kInt8, VectorKind::kBinary,
                          VectorKind::kTq1, VectorKind::kTq4, VectorKind::kPq}) {
    const std::string name = "k" + std::to_string(static_cast<int>(kind));
    EXPECT_EQ(Info(name).spec.kind, kind);
    EXPECT_GE(Recall(name, live), 0.9) << name;
  }
}

TEST_F(DiskBackendTest, BulkLoadAndReadOnly) {
  Create("b");
  std::vector<float> rows;
  std::vector<uint64_t> ids;
  for (uint64_t i = 0; i < 500; ++i) {
    const std::vector<float> r = Row(i);
    rows.insert(rows.end(), r.begin(), r.end());
    ids.push_back(i * 3);
  }
  const vamana::SpanRowSource src(rows, kDim);
  ASSERT_TRUE(collection_->BulkLoad("b", src, ids, {}).ok());
  EXPECT_EQ(Info("b").n_vectors, 500u);
  EXPECT_EQ(Info("b").pending, 0u);
  EXPECT_EQ(Ids("b", Row(10), 1), std::vector<uint64_t>{30});
  // Not empty any more; duplicate ids; wrong shapes.
  EXPECT_EQ(collection_->BulkLoad("b", src, ids, {}).code(), StatusCode::kInvalidArgument);
  Create("b2");
  std::vector<uint64_t> dup(500, 1);
  EXPECT_EQ(collection_->BulkLoad("b2", src, dup, {}).code(), StatusCode::kInvalidArgument);
  const vamana::SpanRowSource wrong(rows, kDim / 2);
  EXPECT_EQ(collection_->BulkLoad("b2", wrong, {}, {}).code(), StatusCode::kInvalidArgument);

  options_.read_only = true;
  Open();
  EXPECT_EQ(Ids("b", Row(10), 1), std::vector<uint64_t>{30});
  EXPECT_EQ(PutRange("b", 0, 1).code(), StatusCode::kNotSupported);
  EXPECT_EQ(collection_->Consolidate("b").code(), StatusCode::kNotSupported);
}

TEST_F(DiskBackendTest, DropRemovesFiles) {
  Create("x");
  ASSERT_TRUE(PutRange("x", 0, 200).ok());
  ASSERT_TRUE(collection_->Consolidate("x").ok());
  ASSERT_TRUE(PutRange("x", 200, 210).ok());
  ASSERT_TRUE(collection_->Drop("x").ok());
  Open();
  EXPECT_EQ(collection_->index_count(), 0u);
  Create("y");  // a new index id, an empty directory
  EXPECT_EQ(Info("y").n_vectors, 0u);
}

// Searches racing inserts, deletes and merges return only live vectors: ids deleted before a
// search started (never re-inserted) must not appear, and recall stays high at the end.
TEST_F(DiskBackendTest, SearchesDuringWritesAndMerges) {
  options_.background_merge = true;
  options_.delta_merge_bytes = 64 << 10;  // merges start every few hundred vectors
  Open();
  Create("c");
  ASSERT_TRUE(PutRange("c", 0, 400).ok());
  ASSERT_TRUE(collection_->Consolidate("c").ok());
  std::atomic<uint64_t> deleted_below{0};  // ids < this with id % 4 == 0 are deleted for good
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::atomic<uint64_t> searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      uint64_t qi = static_cast<uint64_t>(t) * 100000;
      while (!stop.load()) {
        const uint64_t bound = deleted_below.load();
        SearchOptions o;
        o.k = 20;
        SearchResult r;
        if (!collection_->Search("c", Row(5000000 + qi++), o, &r).ok()) {
          ++violations;
          continue;
        }
        std::set<uint64_t> seen;
        for (const SearchHit& h : r.hits) {
          if (h.id < bound && h.id % 4 == 0) ++violations;
          if (!seen.insert(h.id).second) ++violations;  // duplicates
        }
        ++searches;
      }
    });
  }
  uint64_t next = 400;
  for (int round = 0; round < 6; ++round) {
    ASSERT_TRUE(PutRange("c", next, next + 150).ok());
    next += 150;
    const uint64_t upto = std::min<uint64_t>(next, 100 * (round + 1));
    for (uint64_t id = deleted_below.load(); id < upto; ++id) {
      if (id % 4 == 0) {
        ASSERT_TRUE(collection_->Delete("c", id).ok());
      }
    }
    deleted_below = upto;
    if (round == 3) {
      ASSERT_TRUE(collection_->Consolidate("c").ok());
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(searches.load(), 0u);
  std::vector<uint64_t> live;
  for (uint64_t id = 0; id < next; ++id) {
    if (!(id < deleted_below && id % 4 == 0)) live.push_back(id);
  }
  EXPECT_EQ(Info("c").n_vectors, live.size());
  EXPECT_GE(Info("c").graph_version, 2u);
  EXPECT_GE(Recall("c", live), 0.95);
}

}  // namespace
}  // namespace skeg::index
