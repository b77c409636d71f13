// Recall@10 of every quantizer on real embeddings, with the flat-scan recipe the indexes use:
// rank all codes by the quantized distance, keep the best 10 x k, re-rank those
// with exact f32 cosine, and compare the top 10 with the exact top 10.
//
//   glove-100-cosine:      the first 20 000 base rows (100-d, raw GloVe, not normalised);
//                          ground truth recomputed by brute force over those rows (the shipped
//                          gt.ivecs is for all 100 000).
//   wordnet-use512-cosine: all 40 000 base rows (512-d, unit norm) and the shipped gt.ivecs.
//
// Thresholds are the measured values (docs/quantizers.md) minus a small margin; the issue's
// orientation is int8 and tq4 >= 0.99, tq2 >= 0.98, tq1 and pq >= 0.95 (binary has none).
// Skipped when the shared datasets are absent.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/quant/quantizer.h"
#include "testing/datasets.h"

namespace skeg::index {
namespace {

constexpr size_t kK = 10;

// Unoptimised and sanitizer builds (-DSKEG_SANITIZE=ON, Debug) run about 30x slower; they check
// the same code paths on a quarter of the rows and queries (ground truth by brute force).
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSlowBuild = true;
#else
constexpr bool kSlowBuild = false;
#endif
constexpr size_t kQueries = kSlowBuild ? 50 : 200;
// Candidates re-ranked per query: 10 x k, or SKEG_RECALL_MULT x k when that variable is set (to
// measure other multipliers; the thresholds below hold for the default only).
size_t Candidates() {
  const char* env = std::getenv("SKEG_RECALL_MULT");
  const long mult = env != nullptr ? std::strtol(env, nullptr, 10) : 10;
  return static_cast<size_t>(mult > 0 ? mult : 10) * kK;
}

// The shared dataset plus L2-normalised rows for the exact re-rank.
struct Dataset : skeg::testing::CosineDataset {
  std::vector<float> base_unit;  // n x d
};

void Normalize(std::vector<float>* v, size_t d) {
  for (size_t i = 0; i < v->size() / d; ++i) NormalizeF32(v->data() + i * d, d);
}

std::vector<uint32_t> ExactTopK(const Dataset& ds, const float* q_unit, const uint32_t* ids,
                                size_t count, size_t k) {
  std::vector<std::pair<float, uint32_t>> scored(count);
  for (size_t i = 0; i < count; ++i) {
    scored[i] = {-Kernels().dot_f32(q_unit, ds.base_unit.data() + size_t{ids[i]} * ds.d, ds.d),
                 ids[i]};
  }
  const size_t take = std::min(k, count);
  std::partial_sort(scored.begin(), scored.begin() + take, scored.end());
  std::vector<uint32_t> out(take);
  for (size_t i = 0; i < take; ++i) out[i] = scored[i].second;
  return out;
}

// Loads `name` (truth from gt.ivecs when use_gt, else by brute force). False when missing.
bool LoadDataset(const std::string& name, size_t max_base, size_t nq, bool use_gt, Dataset* ds) {
  if (!skeg::testing::LoadCosineDataset(name, max_base, nq, kK, use_gt, ds)) return false;
  ds->base_unit = ds->base;
  Normalize(&ds->base_unit, ds->d);
  return true;
}

// Recall@10 of `kind` on ds with Candidates() candidates re-ranked exactly.
double MeasureRecall(const Dataset& ds, QuantKind kind, const QuantizerParams& params) {
  auto made = MakeQuantizer(kind, ds.d, Metric::kCosine, params);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  if (!made.ok()) return 0;
  std::unique_ptr<Quantizer> q = std::move(made).value();
  EXPECT_TRUE(q->Train(ds.base.data(), ds.n).ok());
  const size_t cs = q->code_size();
  std::vector<uint8_t> codes(ds.n * cs);
  for (size_t i = 0; i < ds.n; ++i) q->Encode(ds.base.data() + i * ds.d, codes.data() + i * cs);

  QueryContext ctx = q->NewQueryContext();
  std::vector<float> dist(ds.n);
  std::vector<uint32_t> order(ds.n);
  std::vector<float> q_unit(ds.d);
  size_t hits = 0;
  const size_t candidates = std::min(Candidates(), ds.n);
  for (size_t qi = 0; qi < ds.nq; ++qi) {
    const float* qv = ds.queries.data() + qi * ds.d;
    q->PrepareQuery(qv, &ctx);
    q->ScanCodes(ctx, codes.data(), ds.n, dist.data());
    std::iota(order.begin(), order.end(), 0u);
    std::partial_sort(
        order.begin(), order.begin() + static_cast<long>(candidates), order.end(),
        [&](uint32_t a, uint32_t b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
    std::copy(qv, qv + ds.d, q_unit.begin());
    NormalizeF32(q_unit.data(), ds.d);
    const auto top = ExactTopK(ds, q_unit.data(), order.data(), candidates, kK);
    for (uint32_t id : top) {
      hits += std::count(ds.truth[qi].begin(), ds.truth[qi].end(), id);
    }
  }
  return static_cast<double>(hits) / static_cast<double>(ds.nq * kK);
}

struct Expectation {
  QuantKind kind;
  double min_recall;
};

void RunRecall(const Dataset& ds, const std::vector<Expectation>& expectations) {
  QuantizerParams params;
  // PQ training bounded for the test's time budget: 8 192 rows, 8 Lloyd iterations.
  params.max_train_rows = kSlowBuild ? 2048 : 8192;
  params.train_iterations = kSlowBuild ? 4 : 8;
  for (const Expectation& e : expectations) {
    const auto start = std::chrono::steady_clock::now();
    const double recall = MeasureRecall(ds, e.kind, params);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("recall@%zu %s %s (n=%zu, d=%zu, %zu queries, %zu candidates): %.4f [%.2f s]\n", kK,
                ds.name.c_str(), std::string(QuantKindName(e.kind)).c_str(), ds.n, ds.d, ds.nq,
                Candidates(), recall, secs);
    EXPECT_GE(recall, e.min_recall) << QuantKindName(e.kind) << " on " << ds.name;
  }
}

TEST(QuantizerRecallTest, Glove100Cosine) {
  Dataset ds;
  if (!LoadDataset("glove-100-cosine", kSlowBuild ? 5000 : 20000, kQueries,
                   /*use_gt=*/false, &ds)) {
    GTEST_SKIP() << "shared dataset glove-100-cosine not found";
  }
  // Measured at 10 x k: int8 1.000, tq4 1.000, tq2 0.981, tq1 0.843 (0.927 at 20 x k, 0.974 at
  // 40 x k: GloVe is not centred and 1 bit per padded coordinate is too coarse at d = 100),
  // pq 0.992, binary 0.539.
  RunRecall(ds, {{QuantKind::kInt8, 0.99},
                 {QuantKind::kTq4, 0.99},
                 {QuantKind::kTq2, 0.975},
                 {QuantKind::kTq1, 0.82},
                 {QuantKind::kPq, 0.98},
                 {QuantKind::kBinary, 0.50}});
}

TEST(QuantizerRecallTest, WordnetUse512Cosine) {
  Dataset ds;
  if (!LoadDataset("wordnet-use512-cosine", kSlowBuild ? 10000 : 40000, kQueries,
                   /*use_gt=*/!kSlowBuild, &ds)) {
    GTEST_SKIP() << "shared dataset wordnet-use512-cosine not found";
  }
  // Measured at 10 x k: int8 1.000, tq4 1.000, tq2 0.9995, tq1 0.993, pq 1.000, binary 0.986.
  RunRecall(ds, {{QuantKind::kInt8, 0.99},
                 {QuantKind::kTq4, 0.99},
                 {QuantKind::kTq2, 0.99},
                 {QuantKind::kTq1, 0.98},
                 {QuantKind::kPq, 0.99},
                 {QuantKind::kBinary, 0.97}});
}

}  // namespace
}  // namespace skeg::index
