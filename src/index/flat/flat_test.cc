#include "index/flat/flat.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

namespace skeg::index {
namespace {

// An in-memory VectorSource over a map the test keeps in sync with the index.
class MapSource : public VectorSource {
 public:
  struct Entry {
    std::vector<float> vec;
    std::string payload;
    std::optional<uint64_t> attr;
  };
  Result<bool> Fetch(uint64_t id, float* vec, FetchedRecord* rec) const override {
    auto it = entries.find(id);
    if (it == entries.end()) return false;
    std::copy(it->second.vec.begin(), it->second.vec.end(), vec);
    rec->bytes = it->second.payload;
    rec->payload = rec->bytes;
    rec->attr = it->second.attr;
    return true;
  }
  std::map<uint64_t, Entry> entries;
};

// Exact score of `x` for query `q` in double precision.
double RefScore(Metric m, const std::vector<float>& q, const std::vector<float>& x) {
  double dot = 0, qq = 0, xx = 0, l2 = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    dot += double{q[i]} * x[i];
    qq += double{q[i]} * q[i];
    xx += double{x[i]} * x[i];
    l2 += (double{q[i]} - x[i]) * (double{q[i]} - x[i]);
  }
  if (m == Metric::kL2) return l2;
  if (m == Metric::kInnerProduct) return dot;
  return (qq == 0 || xx == 0) ? 0 : dot / std::sqrt(qq * xx);
}

// Brute-force top k as (score, id), best first.
std::vector<std::pair<double, uint64_t>> BruteForce(Metric m, const std::vector<float>& q,
                                                    const MapSource& src, size_t k,
                                                    const std::function<bool(uint64_t)>& keep) {
  std::vector<std::pair<double, uint64_t>> all;
  for (const auto& [id, e] : src.entries) {
    if (keep && !keep(id)) continue;
    all.emplace_back(RefScore(m, q, e.vec), id);
  }
  std::sort(all.begin(), all.end(), [m](const auto& a, const auto& b) {
    return m == Metric::kL2 ? a.first < b.first : a.first > b.first;
  });
  if (all.size() > k) all.resize(k);
  return all;
}

// Checks that `hits` is a correct top-k: scores exact (against the double reference within a
// relative 1e-4), ordered, and the k-th score equal to the brute-force k-th score (so any
// difference in ids is a tie).
void ExpectExactTopK(Metric m, const std::vector<float>& q, const MapSource& src, size_t k,
                     const std::vector<SearchHit>& hits,
                     const std::function<bool(uint64_t)>& keep = nullptr) {
  const auto ref = BruteForce(m, q, src, k, keep);
  ASSERT_EQ(hits.size(), ref.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    const double exact = RefScore(m, q, src.entries.at(hits[i].id).vec);
    EXPECT_NEAR(hits[i].score, exact, 1e-4 * (1 + std::abs(exact)));
    EXPECT_NEAR(hits[i].score, ref[i].first, 1e-4 * (1 + std::abs(ref[i].first))) << "rank " << i;
    if (keep) {
      EXPECT_TRUE(keep(hits[i].id));
    }
  }
}

std::vector<float> RandomVec(std::mt19937& rng, size_t d) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(d);
  for (float& x : v) x = g(rng) + 0.3f;
  return v;
}

struct Fixture {
  Fixture(size_t d, Metric m, std::optional<QuantKind> kind, size_t mult = 10) : dim(d) {
    std::unique_ptr<Quantizer> q;
    if (kind) {
      QuantizerParams p;
      auto made = MakeQuantizer(*kind, d, m, p);
      EXPECT_TRUE(made.ok());
      q = std::move(*made);
    }
    index = std::make_unique<FlatIndex>(d, m, std::move(q), mult);
  }
  void Put(uint64_t id, const std::vector<float>& v, std::string payload = "",
           std::optional<uint64_t> attr = std::nullopt) {
    index->Upsert(id, v.data(), payload, attr);
    src.entries[id] = {v, payload, attr};
  }
  void Del(uint64_t id) { EXPECT_EQ(index->Remove(id), src.entries.erase(id) > 0); }
  size_t dim;
  MapSource src;
  std::unique_ptr<FlatIndex> index;
};

class FlatMetricTest : public ::testing::TestWithParam<Metric> {};

TEST_P(FlatMetricTest, F32IsBruteForce) {
  const Metric m = GetParam();
  for (size_t d : {1, 7, 33, 100}) {
    Fixture f(d, m, std::nullopt);
    std::mt19937 rng(42 + d);
    for (uint64_t id = 0; id < 1500; ++id) f.Put(id * 7 + 3, RandomVec(rng, d));
    // Deletions and replacements in the middle.
    for (uint64_t id = 0; id < 1500; id += 5) f.Del(id * 7 + 3);
    for (uint64_t id = 1; id < 1500; id += 11) f.Put(id * 7 + 3, RandomVec(rng, d));
    for (uint64_t id = 5000; id < 5100; ++id) f.Put(id, RandomVec(rng, d));  // reuses slots
    EXPECT_EQ(f.index->size(), f.src.entries.size());
    std::vector<SearchHit> hits;
    for (int qi = 0; qi < 20; ++qi) {
      const auto q = RandomVec(rng, d);
      for (size_t k : {1, 10, 100}) {
        FlatSearchRequest r;
        r.query = q.data();
        r.k = k;
        ASSERT_TRUE(f.index->Search(r, nullptr, &hits).ok());
        ExpectExactTopK(m, q, f.src, k, hits);
      }
    }
  }
}

TEST_P(FlatMetricTest, QuantizedKindsReturnExactScores) {
  const Metric m = GetParam();
  const size_t d = 64;
  for (QuantKind kind : {QuantKind::kInt8, QuantKind::kBinary, QuantKind::kTq1, QuantKind::kTq2,
                         QuantKind::kTq4, QuantKind::kPq}) {
    Fixture f(d, m, kind, 40);
    std::mt19937 rng(7);
    for (uint64_t id = 0; id < 2000; ++id) f.Put(id, RandomVec(rng, d));
    if (f.index->awaiting_training()) {
      std::vector<SearchHit> hits;
      const auto q = RandomVec(rng, d);
      FlatSearchRequest r;
      r.query = q.data();
      r.k = 10;
      ASSERT_TRUE(f.index->Search(r, nullptr, &hits).ok());  // exact until trained
      ExpectExactTopK(m, q, f.src, 10, hits);
      const auto sample = f.index->TrainingSample(100000);
      ASSERT_EQ(sample.size(), 2000 * d);
      auto q2 = MakeQuantizer(kind, d, m, {});
      ASSERT_TRUE(q2.ok());
      ASSERT_TRUE((*q2)->Train(sample.data(), 2000).ok());
      ASSERT_TRUE(f.index->AdoptTrainedQuantizer(std::move(*q2)).ok());
    }
    EXPECT_FALSE(f.index->exact_mode());
    for (uint64_t id = 0; id < 2000; id += 3) f.Del(id);
    for (uint64_t id = 3000; id < 3300; ++id) f.Put(id, RandomVec(rng, d));
    std::vector<SearchHit> hits;
    size_t found = 0;
    size_t total = 0;
    for (int qi = 0; qi < 20; ++qi) {
      const auto q = RandomVec(rng, d);
      FlatSearchRequest r;
      r.query = q.data();
      r.k = 10;
      FlatSearchRequest no_source = r;
      EXPECT_FALSE(f.index->Search(no_source, nullptr, &hits).ok());
      ASSERT_TRUE(f.index->Search(r, &f.src, &hits).ok());
      ASSERT_EQ(hits.size(), 10u);
      const auto ref = BruteForce(m, q, f.src, 10, nullptr);
      for (size_t i = 0; i < hits.size(); ++i) {
        const double exact = RefScore(m, q, f.src.entries.at(hits[i].id).vec);
        EXPECT_NEAR(hits[i].score, exact, 1e-4 * (1 + std::abs(exact)));
        if (i > 0) {
          EXPECT_TRUE(m == Metric::kL2 ? hits[i - 1].score <= hits[i].score
                                       : hits[i - 1].score >= hits[i].score);
        }
        for (const auto& [s, id] : ref) found += id == hits[i].id;
      }
      total += 10;
    }
    // Random Gaussian data at d = 64 with 40 x k candidates: every kind finds most neighbours.
    EXPECT_GE(static_cast<double>(found) / total, kind == QuantKind::kBinary ? 0.5 : 0.8)
        << QuantKindName(kind);
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, FlatMetricTest,
                         ::testing::Values(Metric::kCosine, Metric::kL2, Metric::kInnerProduct),
                         [](const auto& p) { return std::string(MetricName(p.param)); });

TEST(FlatIndexTest, FilterAndRangeKeepOnlyMatches) {
  for (std::optional<QuantKind> kind :
       {std::optional<QuantKind>(), std::optional(QuantKind::kTq4)}) {
    Fixture f(16, Metric::kCosine, kind);
    std::mt19937 rng(3);
    for (uint64_t id = 0; id < 3000; ++id) {
      f.Put(id, RandomVec(rng, 16),
            "lang=" + std::string(id % 3 == 0 ? "en" : "fr") + " n=" + std::to_string(id % 100),
            id % 2 == 0 ? std::optional<uint64_t>(id) : std::nullopt);
    }
    auto filter = Filter::Parse("lang = en AND n < 50");
    ASSERT_TRUE(filter.ok());
    const auto q = RandomVec(rng, 16);
    FlatSearchRequest r;
    r.query = q.data();
    r.k = 25;
    r.filter = &*filter;
    r.has_range = true;
    r.range_lo = 1000;
    r.range_hi = 2000;
    std::vector<SearchHit> hits;
    ASSERT_TRUE(f.index->Search(r, &f.src, &hits).ok());
    const auto keep = [](uint64_t id) {
      return id % 3 == 0 && id % 100 < 50 && id % 2 == 0 && id >= 1000 && id <= 2000;
    };
    if (!kind) {
      ExpectExactTopK(Metric::kCosine, q, f.src, 25, hits, keep);
    } else {
      for (const SearchHit& h : hits) EXPECT_TRUE(keep(h.id)) << h.id;
      EXPECT_EQ(hits.size(), 25u);
    }
    // A filter nothing matches.
    auto none = Filter::Parse("lang = de");
    ASSERT_TRUE(none.ok());
    r.filter = &*none;
    ASSERT_TRUE(f.index->Search(r, &f.src, &hits).ok());
    EXPECT_TRUE(hits.empty());
  }
}

TEST(FlatIndexTest, RerankRechecksReplacedRecords) {
  Fixture f(8, Metric::kL2, QuantKind::kTq4);
  std::mt19937 rng(5);
  for (uint64_t id = 0; id < 100; ++id) f.Put(id, RandomVec(rng, 8), "ok=1");
  // The source changes behind the index's back (a concurrent replace between scan and
  // re-rank): the re-rank must apply the filter to the record it reads.
  f.src.entries[7].payload = "ok=0";
  f.src.entries.erase(8);
  auto filter = Filter::Parse("ok = 1");
  ASSERT_TRUE(filter.ok());
  const auto q = f.src.entries[7].vec;
  FlatSearchRequest r;
  r.query = q.data();
  r.k = 100;
  r.filter = &*filter;
  std::vector<SearchHit> hits;
  ASSERT_TRUE(f.index->Search(r, &f.src, &hits).ok());
  EXPECT_EQ(hits.size(), 98u);
  for (const SearchHit& h : hits) EXPECT_TRUE(h.id != 7 && h.id != 8);
}

TEST(FlatIndexTest, IdMapSurvivesChurn) {
  Fixture f(2, Metric::kL2, std::nullopt);
  std::mt19937_64 rng(11);
  std::unordered_map<uint64_t, bool> ref;
  std::vector<uint64_t> ids;
  for (int step = 0; step < 200000; ++step) {
    const uint64_t id = ids.empty() || rng() % 3 != 0 ? rng() % 50000 : ids[rng() % ids.size()];
    if (rng() % 2 == 0) {
      f.index->Upsert(id, std::vector<float>{1, 2}.data(), "", std::nullopt);
      if (!ref[id]) ids.push_back(id);
      ref[id] = true;
    } else {
      EXPECT_EQ(f.index->Remove(id), ref[id]);
      ref[id] = false;
    }
  }
  size_t live = 0;
  for (const auto& [id, present] : ref) {
    EXPECT_EQ(f.index->Contains(id), present) << id;
    live += present;
  }
  EXPECT_EQ(f.index->size(), live);
  EXPECT_GT(f.index->MemoryUsage(), live * 8);
}

// The disk backend's delta empties at every merge: its memory must go back, and the index must
// work as new afterwards (f32 rows and a fast-scan quantized kind).
TEST(FlatIndexTest, ReleaseIfEmptyGivesTheMemoryBack) {
  for (std::optional<QuantKind> kind :
       {std::optional<QuantKind>(), std::optional(QuantKind::kTq2)}) {
    Fixture f(32, Metric::kCosine, kind);
    const size_t empty = f.index->MemoryUsage();
    std::mt19937 rng(5);
    std::normal_distribution<float> g;
    auto random_vec = [&] {
      std::vector<float> v(32);
      for (float& x : v) x = g(rng);
      return v;
    };
    for (uint64_t id = 0; id < 5000; ++id) {
      f.Put(id, random_vec(), "tag:x", id);
    }
    EXPECT_EQ(f.index->ReleaseIfEmpty(), 0u);  // not empty: nothing released
    const size_t full = f.index->MemoryUsage();
    EXPECT_GT(full, empty + 5000 * 8);
    for (uint64_t id = 0; id < 5000; ++id) f.Del(id);
    EXPECT_GE(f.index->MemoryUsage(), full);  // removals keep the capacity...
    EXPECT_GT(f.index->ReleaseIfEmpty(), 5000u * 8);
    EXPECT_LE(f.index->MemoryUsage(), empty + 4096);  // ...until released
    // Usable again: ids, payload tokens and search.
    const std::vector<float> v = random_vec();
    f.Put(7, v, "tag:y", 7);
    f.Put(8, random_vec(), "tag:z", 8);
    EXPECT_TRUE(f.index->Contains(7));
    EXPECT_EQ(f.index->size(), 2u);
    FlatSearchRequest r;
    r.query = v.data();
    r.k = 1;
    std::vector<SearchHit> hits;
    ASSERT_TRUE(f.index->Search(r, &f.src, &hits).ok());
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, 7u);
  }
}

TEST(FlatIndexTest, TokensAreCompactedAndPayloadBytesTracked) {
  Fixture f(4, Metric::kL2, std::nullopt);
  const std::vector<float> v{1, 2, 3, 4};
  for (int round = 0; round < 50; ++round) {
    for (uint64_t id = 0; id < 200; ++id) {
      f.index->Upsert(id, v.data(), "a=1 b=2 c=x round=" + std::to_string(round), std::nullopt);
    }
  }
  EXPECT_EQ(f.index->payload_bytes(), 200 * std::string("a=1 b=2 c=x round=49").size());
  auto filter = Filter::Parse("round = 49 AND c = x");
  ASSERT_TRUE(filter.ok());
  FlatSearchRequest r;
  r.query = v.data();
  r.k = 1000;
  r.filter = &*filter;
  std::vector<SearchHit> hits;
  ASSERT_TRUE(f.index->Search(r, nullptr, &hits).ok());
  EXPECT_EQ(hits.size(), 200u);
  // Tokens of replaced payloads were reclaimed: well below 50 rounds' worth.
  EXPECT_LT(f.index->MemoryUsage(), 200 * 4 * 16 * 10 + 100000);
}

}  // namespace
}  // namespace skeg::index
