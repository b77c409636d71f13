// Recall@10 of every index kind through the whole vector path: Collection (value-log records,
// training at the threshold) + FlatIndex (code scan, exact re-rank from the records), metric
// cosine, against exact ground truth recomputed by brute force over the rows inserted.
//
//   glove-100-cosine:      the first 20 000 base rows (100-d, raw GloVe), 200 queries.
//   wordnet-use512-cosine: the first 10 000 base rows (512-d, unit norm), 200 queries.
// (Debug and sanitizer builds: a quarter of the rows, 50 queries.) The re-rank multipliers are
// the CollectionOptions defaults; SKEG_RERANK_MULT=<m> overrides them all to measure others
// (the thresholds below hold for the defaults only). Measured with the defaults (release,
// 200 queries): glove f32 1.000, int8 1.000, binary 0.774, tq1 0.974, tq2 0.997, tq4 1.000,
// pq 0.9995; wordnet 1.000 for every kind but binary (0.9995). The thresholds are these minus
// a margin (slow builds use fewer rows). Skipped when the datasets are absent.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/collection/collection.h"
#include "storage/vlog/store.h"
#include "testing/datasets.h"
#include "testing/temp_dir.h"

namespace skeg::index {
namespace {

constexpr size_t kK = 10;
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSlowBuild = true;
#else
constexpr bool kSlowBuild = false;
#endif
constexpr size_t kQueries = kSlowBuild ? 50 : 200;

using Dataset = skeg::testing::CosineDataset;

// The first max_base rows of `name`, truth by brute force over them. False when missing.
bool Load(const std::string& name, size_t max_base, Dataset* ds) {
  return skeg::testing::LoadCosineDataset(name, max_base, kQueries, kK, /*use_gt=*/false, ds);
}

double MeasureRecall(const Dataset& ds, VectorKind kind) {
  ::skeg::testing::TempDir dir;
  storage::StoreOptions so;
  so.data_dir = dir.Sub("db");
  so.durability = storage::Durability::kRelaxed;
  so.background_compaction = false;
  auto store = storage::Store::Open(so);
  EXPECT_TRUE(store.ok());
  if (!store.ok()) return 0;
  CollectionOptions co;
  co.store = store->get();
  // PQ trains at 10 000 vectors and int8 at 4 096 by default; the reduced slow-build sets
  // train at half their size.
  co.pq_train_rows = std::min(co.pq_train_rows, ds.n / 2);
  co.int8_train_rows = std::min(co.int8_train_rows, ds.n / 2);
  if (const char* env = std::getenv("SKEG_RERANK_MULT")) {
    const size_t m = std::strtoul(env, nullptr, 10);
    co.rerank_int8 = co.rerank_binary = co.rerank_tq1 = co.rerank_tq2 = co.rerank_tq4 =
        co.rerank_pq = m;
  }
  auto c = Collection::Open(co);
  EXPECT_TRUE(c.ok());
  if (!c.ok()) return 0;
  IndexSpec spec;
  spec.name = "r";
  spec.dim = static_cast<uint32_t>(ds.d);
  spec.kind = kind;
  EXPECT_TRUE((*c)->Create(spec).ok());
  std::vector<VectorWrite> batch;
  for (size_t i = 0; i < ds.n; ++i) {
    batch.push_back({i, std::span<const float>(ds.base.data() + i * ds.d, ds.d), "", {}});
    if (batch.size() == 1000 || i + 1 == ds.n) {
      EXPECT_TRUE((*c)->Put("r", batch).ok());
      batch.clear();
    }
  }
  EXPECT_TRUE((*c)->Info("r")->trained);
  size_t hits = 0;
  SearchOptions opts;
  opts.k = kK;
  SearchResult res;
  for (size_t qi = 0; qi < ds.nq; ++qi) {
    EXPECT_TRUE(
        (*c)->Search("r", std::span<const float>(ds.queries.data() + qi * ds.d, ds.d), opts, &res)
            .ok());
    for (const SearchHit& h : res.hits) {
      hits += std::count(ds.truth[qi].begin(), ds.truth[qi].end(), h.id);
    }
  }
  return static_cast<double>(hits) / static_cast<double>(ds.nq * kK);
}

void RunKinds(const Dataset& ds, const std::vector<std::pair<VectorKind, double>>& expectations) {
  for (const auto& [kind, min_recall] : expectations) {
    const auto start = std::chrono::steady_clock::now();
    const double recall = MeasureRecall(ds, kind);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("flat recall@10 %s %s (n=%zu, %zu queries): %.4f [%.2f s]\n", ds.name.c_str(),
                std::string(VectorKindName(kind)).c_str(), ds.n, ds.nq, recall, secs);
    EXPECT_GE(recall, min_recall) << VectorKindName(kind) << " on " << ds.name;
  }
}

TEST(CollectionRecallTest, Glove100Cosine) {
  Dataset ds;
  if (!Load("glove-100-cosine", kSlowBuild ? 5000 : 20000, &ds)) {
    GTEST_SKIP() << "shared dataset glove-100-cosine not found";
  }
  RunKinds(ds, {{VectorKind::kF32, 1.0},
                {VectorKind::kInt8, 0.99},
                {VectorKind::kBinary, 0.74},
                {VectorKind::kTq1, 0.95},
                {VectorKind::kTq2, 0.99},
                {VectorKind::kTq4, 0.99},
                {VectorKind::kPq, 0.99}});
}

TEST(CollectionRecallTest, WordnetUse512Cosine) {
  Dataset ds;
  if (!Load("wordnet-use512-cosine", kSlowBuild ? 2500 : 10000, &ds)) {
    GTEST_SKIP() << "shared dataset wordnet-use512-cosine not found";
  }
  RunKinds(ds, {{VectorKind::kF32, 1.0},
                {VectorKind::kInt8, 0.99},
                {VectorKind::kBinary, 0.99},
                {VectorKind::kTq1, 0.99},
                {VectorKind::kTq2, 0.99},
                {VectorKind::kTq4, 0.99},
                {VectorKind::kPq, 0.99}});
}

}  // namespace
}  // namespace skeg::index
