#include "index/collection/collection.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/collection/records.h"
#include "storage/vlog/store.h"
#include "testing/temp_dir.h"

namespace skeg::index {
namespace {

std::vector<float> RandomVec(std::mt19937& rng, size_t d) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(d);
  for (float& x : v) x = g(rng) + 0.2f;
  return v;
}

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

class CollectionTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

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
    auto c = Collection::Open(co);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    collection_ = std::move(*c);
  }

  IndexSpec Spec(std::string name, uint32_t dim, VectorKind kind, Metric metric = Metric::kCosine) {
    IndexSpec s;
    s.name = std::move(name);
    s.dim = dim;
    s.kind = kind;
    s.metric = metric;
    return s;
  }

  Status Put1(std::string_view name, uint64_t id, const std::vector<float>& v,
              std::string_view payload = "", std::optional<uint64_t> attr = std::nullopt) {
    VectorWrite w{id, v, payload, attr};
    return collection_->Put(name, std::span<const VectorWrite>(&w, 1));
  }

  ::skeg::testing::TempDir dir_;
  CollectionOptions options_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Collection> collection_;
};

TEST_F(CollectionTest, NameRules) {
  EXPECT_TRUE(ValidateIndexName("a").ok());
  EXPECT_TRUE(ValidateIndexName("My-index_1.v2").ok());
  EXPECT_TRUE(ValidateIndexName(std::string(255, 'x')).ok());
  EXPECT_EQ(ValidateIndexName("").message(), "bad index name: must be 1 to 255 bytes");
  EXPECT_EQ(ValidateIndexName(std::string(256, 'x')).message(),
            "bad index name: must be 1 to 255 bytes");
  EXPECT_EQ(ValidateIndexName("../x").message(), "bad index name '../x': must not contain '..'");
  EXPECT_EQ(ValidateIndexName("a..b").message(), "bad index name 'a..b': must not contain '..'");
  EXPECT_EQ(ValidateIndexName("a::b").message(), "bad index name 'a::b': must not contain '::'");
  EXPECT_EQ(ValidateIndexName(".").message(), "bad index name '.': '.' and '..' are reserved");
  EXPECT_EQ(ValidateIndexName("..").message(), "bad index name '..': '.' and '..' are reserved");
  EXPECT_EQ(ValidateIndexName("a/b").message(),
            "bad index name 'a/b': only A-Z a-z 0-9 . _ - are allowed");
  EXPECT_EQ(ValidateIndexName("a:b").message(),
            "bad index name 'a:b': only A-Z a-z 0-9 . _ - are allowed");
}

TEST_F(CollectionTest, CreateListInfoDrop) {
  ASSERT_TRUE(collection_->Create(Spec("b", 8, VectorKind::kF32, Metric::kL2)).ok());
  ASSERT_TRUE(collection_->Create(Spec("a", 16, VectorKind::kTq2)).ok());
  Status s = collection_->Create(Spec("a", 16, VectorKind::kTq2));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "index 'a' already exists");
  auto list = collection_->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].spec.name, "a");
  EXPECT_EQ(list[1].spec.name, "b");
  EXPECT_EQ(list[1].spec.metric, Metric::kL2);
  auto info = collection_->Info("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->spec.kind, VectorKind::kTq2);
  EXPECT_EQ(info->n_vectors, 0u);
  EXPECT_TRUE(info->trained);
  EXPECT_EQ(collection_->Info("zz").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(collection_->Info("zz").status().message(), "unknown index 'zz'");
  ASSERT_TRUE(collection_->Drop("a").ok());
  EXPECT_EQ(collection_->Drop("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(collection_->List().size(), 1u);
  // Re-creating a dropped name starts empty.
  ASSERT_TRUE(collection_->Create(Spec("a", 4, VectorKind::kF32)).ok());
  EXPECT_EQ(collection_->Info("a")->n_vectors, 0u);
}

TEST_F(CollectionTest, SpecValidation) {
  auto msg = [&](IndexSpec s) { return std::string(collection_->Create(s).message()); };
  EXPECT_EQ(msg(Spec("x", 0, VectorKind::kF32)), "bad dim 0: must be between 1 and 4096");
  EXPECT_EQ(msg(Spec("x", 4097, VectorKind::kF32)), "bad dim 4097: must be between 1 and 4096");
  IndexSpec s = Spec("x", 8, VectorKind::kF32);
  s.alpha = 0.5f;
  EXPECT_EQ(msg(s), "bad ALPHA: must be between 1 and 16");
  s = Spec("x", 8, VectorKind::kF32);
  s.m = 0;
  EXPECT_EQ(msg(s), "bad M: must be between 1 and 1024");
  EXPECT_EQ(ParseVectorKind("TQ4").value(), VectorKind::kTq4);
  EXPECT_EQ(ParseVectorKind("f16").status().message(),
            "unknown kind 'f16' (expected f32, int8, binary, tq1, tq2, tq4 or pq)");
  EXPECT_EQ(ParseBackend("Disk").value(), Backend::kDisk);
  EXPECT_EQ(ParseBackend("ssd").status().message(),
            "unknown backend 'ssd' (expected flat or disk)");
}

TEST_F(CollectionTest, PutGetDeleteAndErrors) {
  ASSERT_TRUE(collection_->Create(Spec("v", 4, VectorKind::kF32, Metric::kL2)).ok());
  const std::vector<float> a{1, 2, 3, 4};
  const std::vector<float> b{5, 6, 7, 8};
  ASSERT_TRUE(Put1("v", 1, a, "x=1", 7).ok());
  EXPECT_EQ(collection_->Get("v", 1)->value(), Bytes(a));
  ASSERT_TRUE(Put1("v", 1, b).ok());  // replace
  EXPECT_EQ(collection_->Get("v", 1)->value(), Bytes(b));
  EXPECT_FALSE(collection_->Get("v", 2)->has_value());
  EXPECT_EQ(collection_->Info("v")->n_vectors, 1u);
  EXPECT_EQ(Put1("v", 2, {1, 2, 3}).message(),
            "wrong vector dimension: index 'v' has dim 4, got 3");
  EXPECT_EQ(Put1("v", 2, {1, 2, std::numeric_limits<float>::quiet_NaN(), 4}).message(),
            "vector contains NaN or Inf");
  EXPECT_EQ(Put1("v", 2, {1, 2, std::numeric_limits<float>::infinity(), 4}).message(),
            "vector contains NaN or Inf");
  EXPECT_EQ(Put1("v", 2, a, std::string(kMaxPayloadBytes + 1, 'x')).message(),
            "payload exceeds 1048576 bytes");
  EXPECT_EQ(Put1("nope", 2, a).code(), StatusCode::kNotFound);
  EXPECT_TRUE(*collection_->Delete("v", 1));
  EXPECT_FALSE(*collection_->Delete("v", 1));
  EXPECT_FALSE(collection_->Get("v", 1)->has_value());
  SearchResult res;
  SearchOptions so;
  so.k = 0;
  EXPECT_EQ(collection_->Search("v", a, so, &res).message(), "k must be between 1 and 10000");
  so.k = 10001;
  EXPECT_EQ(collection_->Search("v", a, so, &res).message(), "k must be between 1 and 10000");
  so.k = 3;
  EXPECT_EQ(collection_->Search("v", b, so, &res).code(), StatusCode::kOk);
  EXPECT_TRUE(res.hits.empty());
}

TEST_F(CollectionTest, MultiPutIsAllOrNothing) {
  ASSERT_TRUE(collection_->Create(Spec("v", 2, VectorKind::kF32)).ok());
  const std::vector<float> ok{1, 2};
  const std::vector<float> bad{1};
  std::vector<VectorWrite> writes{{1, ok, "", {}}, {2, bad, "", {}}};
  EXPECT_FALSE(collection_->Put("v", writes).ok());
  EXPECT_EQ(collection_->Info("v")->n_vectors, 0u);
  writes[1].vec = ok;
  EXPECT_TRUE(collection_->Put("v", writes).ok());
  EXPECT_EQ(collection_->Info("v")->n_vectors, 2u);
}

TEST_F(CollectionTest, WithPayloadFilterAndRange) {
  ASSERT_TRUE(collection_->Create(Spec("v", 8, VectorKind::kTq4)).ok());
  std::mt19937 rng(1);
  std::vector<std::vector<float>> vecs;
  for (uint64_t id = 0; id < 500; ++id) {
    vecs.push_back(RandomVec(rng, 8));
    ASSERT_TRUE(Put1("v", id, vecs.back(), id % 2 ? "lang=en n=" + std::to_string(id) : "",
                     id % 5 == 0 ? std::optional<uint64_t>(id) : std::nullopt)
                    .ok());
  }
  auto filter = Filter::Parse("lang = en AND n > 100");
  ASSERT_TRUE(filter.ok());
  SearchOptions so;
  so.k = 20;
  so.filter = &*filter;
  so.with_payload = true;
  SearchResult res;
  ASSERT_TRUE(collection_->Search("v", vecs[0], so, &res).ok());
  ASSERT_EQ(res.hits.size(), 20u);
  ASSERT_EQ(res.payloads.size(), 20u);
  for (size_t i = 0; i < res.hits.size(); ++i) {
    EXPECT_TRUE(res.hits[i].id % 2 == 1 && res.hits[i].id > 100);
    EXPECT_EQ(res.payloads[i].value(), "lang=en n=" + std::to_string(res.hits[i].id));
  }
  so.filter = nullptr;
  so.has_range = true;
  so.range_lo = 100;
  so.range_hi = 200;
  ASSERT_TRUE(collection_->Search("v", vecs[0], so, &res).ok());
  ASSERT_EQ(res.hits.size(), 20u);  // 100, 105, ..., 200: 21 candidates
  for (size_t i = 0; i < res.hits.size(); ++i) {
    EXPECT_TRUE(res.hits[i].id % 5 == 0 && res.hits[i].id >= 100 && res.hits[i].id <= 200);
    EXPECT_EQ(res.payloads[i].has_value(), res.hits[i].id % 2 == 1);
  }
}

// Every kind and metric: fill, delete, replace, restart, and compare everything.
TEST_F(CollectionTest, RestartPreservesEveryIndexBitForBit) {
  options_.int8_train_rows = 300;
  options_.pq_train_rows = 400;
  Open();
  const uint32_t d = 32;
  std::mt19937 rng(9);
  std::vector<std::string> names;
  for (VectorKind kind : {VectorKind::kF32, VectorKind::kInt8, VectorKind::kBinary,
                          VectorKind::kTq1, VectorKind::kTq2, VectorKind::kTq4, VectorKind::kPq}) {
    for (Metric metric : {Metric::kCosine, Metric::kL2, Metric::kInnerProduct}) {
      const std::string name =
          std::string(VectorKindName(kind)) + "-" + std::string(MetricName(metric));
      IndexSpec spec = Spec(name, d, kind, metric);
      spec.backend = kind == VectorKind::kTq2 ? Backend::kDisk : Backend::kFlat;
      spec.m = 32;
      spec.alpha = 1.5f;
      ASSERT_TRUE(collection_->Create(spec).ok()) << name;
      names.push_back(name);
      std::vector<VectorWrite> batch;
      std::vector<std::vector<float>> keep;
      std::vector<std::string> payloads;
      keep.reserve(600);
      payloads.reserve(600);
      for (uint64_t id = 0; id < 600; ++id) {
        keep.push_back(RandomVec(rng, d));
        payloads.push_back(id % 3 ? "g=" + std::to_string(id % 7) : "");
        batch.push_back({id * 13, keep.back(), payloads.back(),
                         id % 4 ? std::optional<uint64_t>(id) : std::nullopt});
      }
      ASSERT_TRUE(collection_->Put(name, batch).ok());
      // Disk indexes: a graph version, then tombstones and replacements over it.
      if (spec.backend == Backend::kDisk) {
        ASSERT_TRUE(collection_->Consolidate(name).ok());
      }
      for (uint64_t id = 0; id < 600; id += 9) ASSERT_TRUE(*collection_->Delete(name, id * 13));
      for (uint64_t id = 1; id < 600; id += 10) {
        ASSERT_TRUE(Put1(name, id * 13, RandomVec(rng, d), "g=replaced", 5).ok());
      }
    }
  }
  // An interrupted drop leaves records of an index id nobody names: Open removes them.
  {
    char key[records::kVectorKeyBytes];
    records::VectorKey(999, 1, key);
    std::string value;
    const std::vector<float> v(3, 1.0f);
    records::EncodeVector(v, "", std::nullopt, &value);
    storage::WriteBatch b;
    b.Put(std::string_view(key, sizeof(key)), value, storage::kNoExpiry,
          storage::KeySpace::kVector);
    ASSERT_TRUE(store_->Write(b).ok());
  }

  struct Snapshot {
    std::vector<IndexInfo> infos;
    std::vector<std::vector<SearchHit>> results;
    std::vector<std::optional<std::string>> payloads;
    std::vector<std::optional<std::string>> vectors;
  };
  auto filter = Filter::Parse("g IN (1, 2, replaced) OR g EXISTS AND NOT g = 3");
  ASSERT_TRUE(filter.ok());
  std::mt19937 qrng(77);
  std::vector<std::vector<float>> queries;
  for (int i = 0; i < 10; ++i) queries.push_back(RandomVec(qrng, d));
  const auto snapshot = [&] {
    Snapshot s;
    s.infos = collection_->List();
    for (const std::string& name : names) {
      for (const auto& q : queries) {
        for (int variant = 0; variant < 3; ++variant) {
          SearchOptions so;
          so.k = 10;
          so.with_payload = true;
          if (variant == 1) so.filter = &*filter;
          if (variant == 2) {
            so.has_range = true;
            so.range_lo = 100;
            so.range_hi = 400;
          }
          SearchResult res;
          EXPECT_TRUE(collection_->Search(name, q, so, &res).ok());
          s.results.push_back(res.hits);
          s.payloads.insert(s.payloads.end(), res.payloads.begin(), res.payloads.end());
        }
      }
      for (uint64_t id = 0; id < 600; ++id) s.vectors.push_back(*collection_->Get(name, id * 13));
    }
    return s;
  };
  const Snapshot before = snapshot();
  for (const IndexInfo& info : before.infos) {
    EXPECT_TRUE(info.trained) << info.spec.name;
    EXPECT_EQ(info.n_vectors, 539u) << info.spec.name;
  }
  Open();
  EXPECT_EQ(collection_->open_info().orphan_records_removed, 1u);
  EXPECT_EQ(collection_->open_info().indexes, names.size());
  EXPECT_EQ(collection_->open_info().trained_at_open, 0u);
  const Snapshot after = snapshot();
  ASSERT_EQ(before.infos.size(), after.infos.size());
  for (size_t i = 0; i < before.infos.size(); ++i) {
    const IndexInfo& x = before.infos[i];
    const IndexInfo& y = after.infos[i];
    EXPECT_EQ(x.spec.name, y.spec.name);
    EXPECT_EQ(x.spec.kind, y.spec.kind);
    EXPECT_EQ(x.spec.metric, y.spec.metric);
    EXPECT_EQ(x.spec.backend, y.spec.backend);
    EXPECT_EQ(x.spec.dim, y.spec.dim);
    EXPECT_EQ(x.spec.m, y.spec.m);
    EXPECT_EQ(x.spec.alpha, y.spec.alpha);
    EXPECT_EQ(x.n_vectors, y.n_vectors);
    EXPECT_EQ(x.disk_bytes, y.disk_bytes);
    EXPECT_EQ(x.trained, y.trained);
  }
  ASSERT_EQ(before.results.size(), after.results.size());
  for (size_t i = 0; i < before.results.size(); ++i) {
    ASSERT_EQ(before.results[i].size(), after.results[i].size()) << i;
    for (size_t j = 0; j < before.results[i].size(); ++j) {
      EXPECT_EQ(before.results[i][j].id, after.results[i][j].id) << i;
      // Bit for bit: same vectors, same arithmetic.
      EXPECT_EQ(std::memcmp(&before.results[i][j].score, &after.results[i][j].score, 4), 0);
    }
  }
  EXPECT_EQ(before.payloads, after.payloads);
  EXPECT_EQ(before.vectors, after.vectors);
}

TEST_F(CollectionTest, TrainsAtThresholdAndAtOpen) {
  options_.pq_train_rows = 300;
  Open();
  ASSERT_TRUE(collection_->Create(Spec("p", 16, VectorKind::kPq)).ok());
  std::mt19937 rng(4);
  for (uint64_t id = 0; id < 299; ++id) ASSERT_TRUE(Put1("p", id, RandomVec(rng, 16)).ok());
  EXPECT_FALSE(collection_->Info("p")->trained);
  EXPECT_EQ(collection_->Info("p")->rerank_candidates_per_k, 0u);
  // Restart below the threshold: still exact.
  Open();
  EXPECT_FALSE(collection_->Info("p")->trained);
  ASSERT_TRUE(Put1("p", 299, RandomVec(rng, 16)).ok());
  EXPECT_TRUE(collection_->Info("p")->trained);
  EXPECT_EQ(collection_->Info("p")->rerank_candidates_per_k, options_.rerank_pq);

  // A threshold lowered between runs: the index trains at open.
  ASSERT_TRUE(collection_->Create(Spec("q", 16, VectorKind::kPq)).ok());
  for (uint64_t id = 0; id < 280; ++id) ASSERT_TRUE(Put1("q", id, RandomVec(rng, 16)).ok());
  options_.pq_train_rows = 256;
  Open();
  EXPECT_EQ(collection_->open_info().trained_at_open, 1u);
  EXPECT_TRUE(collection_->Info("q")->trained);
}

}  // namespace
}  // namespace skeg::index
