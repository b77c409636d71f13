// Quantizer behaviour on synthetic data: dimension checks, training, encode/decode round trips,
// agreement between Distance, ScanCodes and the decoded vectors, and serialization.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/quant/quantizer.h"

namespace skeg::index {
namespace {

constexpr QuantKind kAllKinds[] = {QuantKind::kInt8, QuantKind::kBinary, QuantKind::kTq1,
                                   QuantKind::kTq2,  QuantKind::kTq4,    QuantKind::kPq};
constexpr Metric kAllMetrics[] = {Metric::kL2, Metric::kInnerProduct, Metric::kCosine};

std::vector<float> Gaussian(size_t n, size_t d, uint32_t seed, float mean = 0.5f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, 1.0f);
  std::vector<float> v(n * d);
  for (auto& x : v) x = dist(rng);
  return v;
}

float ExactDistance(Metric metric, const float* q, const float* x, size_t d) {
  double dot = 0, l2 = 0, qq = 0, xx = 0;
  for (size_t i = 0; i < d; ++i) {
    dot += double{q[i]} * x[i];
    l2 += (double{q[i]} - x[i]) * (double{q[i]} - x[i]);
    qq += double{q[i]} * q[i];
    xx += double{x[i]} * x[i];
  }
  switch (metric) {
    case Metric::kL2:
      return static_cast<float>(l2);
    case Metric::kInnerProduct:
      return static_cast<float>(-dot);
    case Metric::kCosine:
      return static_cast<float>(1 - dot / std::sqrt(qq * xx));
  }
  return 0;
}

std::unique_ptr<Quantizer> MakeTrained(QuantKind kind, size_t d, Metric metric,
                                       const std::vector<float>& data, size_t n,
                                       QuantizerParams params = {}) {
  params.train_iterations = 4;
  auto q = MakeQuantizer(kind, d, metric, params);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  std::unique_ptr<Quantizer> out = std::move(q).value();
  EXPECT_TRUE(out->Train(data.data(), n).ok());
  EXPECT_TRUE(out->is_trained());
  return out;
}

TEST(QuantizerTest, KindNamesRoundTrip) {
  for (QuantKind k : kAllKinds) {
    auto parsed = ParseQuantKind(QuantKindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(*ParseQuantKind("TQ4"), QuantKind::kTq4);
  EXPECT_EQ(ParseQuantKind("sq4").status().code(), StatusCode::kInvalidArgument);
}

TEST(QuantizerTest, RejectsBadDimensionsWithReason) {
  for (QuantKind k : kAllKinds) {
    auto zero = MakeQuantizer(k, 0, Metric::kL2);
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(zero.status().message().find("dimension 0 is outside 1..65536"), std::string::npos)
        << zero.status().ToString();
    EXPECT_EQ(MakeQuantizer(k, kMaxQuantDim + 1, Metric::kL2).status().code(),
              StatusCode::kInvalidArgument);
  }
  QuantizerParams p;
  p.pq_m = 16;
  auto pq = MakeQuantizer(QuantKind::kPq, 100, Metric::kL2, p);
  ASSERT_FALSE(pq.ok());
  EXPECT_EQ(pq.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pq.status().message(), "pq: dimension 100 is not divisible by M=16");
  p.pq_m = 200;
  EXPECT_EQ(MakeQuantizer(QuantKind::kPq, 100, Metric::kL2, p).status().message(),
            "pq: M=200 exceeds the dimension 100");
  p.pq_m = 25;
  EXPECT_TRUE(MakeQuantizer(QuantKind::kPq, 100, Metric::kL2, p).ok());
  p.pq_k = 300;
  EXPECT_EQ(MakeQuantizer(QuantKind::kPq, 100, Metric::kL2, p).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(QuantizerTest, CodeSizes) {
  const size_t d = 100;  // d_pad = 128 for TurboQuant
  EXPECT_EQ((*MakeQuantizer(QuantKind::kInt8, d, Metric::kL2))->code_size(), 100u);
  EXPECT_EQ((*MakeQuantizer(QuantKind::kBinary, d, Metric::kL2))->code_size(), 13u);
  EXPECT_EQ((*MakeQuantizer(QuantKind::kTq1, d, Metric::kL2))->code_size(), 16u + 4);
  EXPECT_EQ((*MakeQuantizer(QuantKind::kTq2, d, Metric::kL2))->code_size(), 32u + 4);
  EXPECT_EQ((*MakeQuantizer(QuantKind::kTq4, d, Metric::kL2))->code_size(), 64u + 4);
  EXPECT_EQ((*MakeQuantizer(QuantKind::kPq, d, Metric::kL2))->code_size(), 25u);
  EXPECT_EQ((*MakeQuantizer(QuantKind::kTq1, 1, Metric::kL2))->code_size(), 1u + 4);
}

TEST(QuantizerTest, TrainingRequirements) {
  auto int8 = std::move(MakeQuantizer(QuantKind::kInt8, 8, Metric::kL2)).value();
  EXPECT_FALSE(int8->is_trained());
  EXPECT_EQ(int8->Train(nullptr, 0).code(), StatusCode::kInvalidArgument);
  QuantizerParams fixed;
  fixed.int8_fixed_range = 1;
  EXPECT_TRUE((*MakeQuantizer(QuantKind::kInt8, 8, Metric::kCosine, fixed))->is_trained());

  auto pq = std::move(MakeQuantizer(QuantKind::kPq, 8, Metric::kL2)).value();
  EXPECT_FALSE(pq->is_trained());
  auto few = Gaussian(100, 8, 1);
  const Status s = pq->Train(few.data(), 100);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "pq: training needs at least K=256 rows, got 100");

  for (QuantKind k : {QuantKind::kBinary, QuantKind::kTq1, QuantKind::kTq2, QuantKind::kTq4}) {
    EXPECT_TRUE((*MakeQuantizer(k, 8, Metric::kL2))->is_trained()) << QuantKindName(k);
  }
}

// Relative reconstruction error E|x - x~|^2 / E|x|^2 on Gaussian data. TurboQuant's bounds
// (Zandieh et al. 2025, Theorem 1) are ~0.36, 0.117 and 0.009 for b = 1, 2, 4 on unit vectors.
TEST(QuantizerTest, EncodeDecodeRoundTrip) {
  const size_t d = 96, n = 2000;
  auto data = Gaussian(n, d, 7, 0.0f);
  struct Case {
    QuantKind kind;
    double max_rel_err;
  };
  for (const Case& c :
       {Case{QuantKind::kInt8, 1e-3}, Case{QuantKind::kTq4, 0.012}, Case{QuantKind::kTq2, 0.125},
        Case{QuantKind::kTq1, 0.37}, Case{QuantKind::kPq, 0.15}}) {
    auto q = MakeTrained(c.kind, d, Metric::kL2, data, n);
    std::vector<uint8_t> code(q->code_size());
    std::vector<float> back(d);
    double err = 0, norm = 0;
    for (size_t i = 0; i < n; ++i) {
      const float* x = data.data() + i * d;
      q->Encode(x, code.data());
      q->Decode(code.data(), back.data());
      for (size_t t = 0; t < d; ++t) {
        err += (double{x[t]} - back[t]) * (double{x[t]} - back[t]);
        norm += double{x[t]} * x[t];
      }
    }
    EXPECT_LT(err / norm, c.max_rel_err) << QuantKindName(c.kind);
  }
}

// Distance() and ScanCodes() agree exactly; for the kinds whose estimate is the distance to the
// decoded vector (int8, pq; TurboQuant for inner product and cosine), they match it up to float
// rounding.
TEST(QuantizerTest, DistanceMatchesScanAndDecodedVector) {
  const size_t d = 40, n = 600;
  auto data = Gaussian(n, d, 11);
  auto queries = Gaussian(5, d, 12);
  for (QuantKind kind : kAllKinds) {
    for (Metric metric : kAllMetrics) {
      auto q = MakeTrained(kind, d, metric, data, n);
      const size_t cs = q->code_size();
      std::vector<uint8_t> codes(n * cs);
      for (size_t i = 0; i < n; ++i) q->Encode(data.data() + i * d, codes.data() + i * cs);
      QueryContext ctx = q->NewQueryContext();
      std::vector<float> scan(n), decoded(d);
      for (size_t qi = 0; qi < 5; ++qi) {
        const float* qv = queries.data() + qi * d;
        q->PrepareQuery(qv, &ctx);
        q->ScanCodes(ctx, codes.data(), n, scan.data());
        for (size_t i = 0; i < n; ++i) {
          const float one = q->Distance(ctx, codes.data() + i * cs);
          ASSERT_EQ(one, scan[i]) << QuantKindName(kind) << " " << MetricName(metric);
          const bool exact_on_decoded = kind == QuantKind::kInt8 || kind == QuantKind::kPq ||
                                        (kind != QuantKind::kBinary && metric != Metric::kL2);
          if (!exact_on_decoded) continue;
          q->Decode(codes.data() + i * cs, decoded.data());
          float want = ExactDistance(metric, qv, decoded.data(), d);
          if (metric == Metric::kCosine) {
            // Decoded vectors of cosine quantizers are the (approximately unit) normalised ones:
            // the estimate is 1 - <q/|q|, x~>.
            double dot = 0, qq = 0;
            for (size_t t = 0; t < d; ++t) {
              dot += double{qv[t]} * decoded[t];
              qq += double{qv[t]} * qv[t];
            }
            want = static_cast<float>(1 - dot / std::sqrt(qq));
          }
          ASSERT_NEAR(one, want, 1e-3f * (1 + std::fabs(want)))
              << QuantKindName(kind) << " " << MetricName(metric) << " i=" << i;
        }
      }
    }
  }
}

// The estimate orders vectors like the exact distance: Spearman-style check that the estimated
// distance of the exact nearest of 500 is within the best few percent.
TEST(QuantizerTest, EstimatesCorrelateWithExactDistances) {
  const size_t d = 64, n = 500;
  auto data = Gaussian(n, d, 21);
  auto query = Gaussian(1, d, 22);
  for (QuantKind kind : kAllKinds) {
    for (Metric metric : kAllMetrics) {
      auto q = MakeTrained(kind, d, metric, data, n);
      std::vector<float> exact(n), est(n);
      std::vector<uint8_t> code(q->code_size());
      QueryContext ctx = q->NewQueryContext();
      q->PrepareQuery(query.data(), &ctx);
      double se = 0, sa = 0, see = 0, saa = 0, sea = 0;
      for (size_t i = 0; i < n; ++i) {
        exact[i] = ExactDistance(metric, query.data(), data.data() + i * d, d);
        q->Encode(data.data() + i * d, code.data());
        est[i] = q->Distance(ctx, code.data());
        se += exact[i];
        sa += est[i];
        see += double{exact[i]} * exact[i];
        saa += double{est[i]} * est[i];
        sea += double{exact[i]} * est[i];
      }
      const double cov = sea / n - (se / n) * (sa / n);
      const double corr =
          cov / std::sqrt((see / n - (se / n) * (se / n)) * (saa / n - (sa / n) * (sa / n)));
      // Measured: int8 1.00, pq 0.99, tq4 0.99, tq2 0.93, tq1 0.79, binary 0.65 (ip, cosine) and
      // 0.48 (l2: sign bits of data centred at 0.5 say little about Euclidean distance).
      double min_corr = 0.9;
      if (kind == QuantKind::kTq1) min_corr = 0.7;
      if (kind == QuantKind::kBinary) min_corr = metric == Metric::kL2 ? 0.4 : 0.6;
      EXPECT_GT(corr, min_corr) << QuantKindName(kind) << " " << MetricName(metric);
    }
  }
}

TEST(QuantizerTest, SerializationRoundTripIsBitExact) {
  const size_t d = 32, n = 400;
  auto data = Gaussian(n, d, 31);
  for (QuantKind kind : kAllKinds) {
    for (Metric metric : kAllMetrics) {
      QuantizerParams p;
      p.seed = 99;
      p.int8_per_dimension = metric != Metric::kInnerProduct;
      auto q = MakeTrained(kind, d, metric, data, n, p);
      const std::string bytes = q->Serialize();
      auto back = DeserializeQuantizer(bytes);
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      const Quantizer& r = **back;
      EXPECT_EQ(r.kind(), kind);
      EXPECT_EQ(r.metric(), metric);
      EXPECT_EQ(r.dim(), d);
      EXPECT_TRUE(r.is_trained());
      EXPECT_EQ(r.Serialize(), bytes);
      std::vector<uint8_t> c1(q->code_size()), c2(r.code_size());
      for (size_t i = 0; i < 20; ++i) {
        q->Encode(data.data() + i * d, c1.data());
        r.Encode(data.data() + i * d, c2.data());
        ASSERT_EQ(c1, c2) << QuantKindName(kind);
      }
      EXPECT_GT(q->MemoryUsage(), 0u);
    }
  }
  // Untrained quantizers serialize too and stay untrained.
  auto untrained = std::move(MakeQuantizer(QuantKind::kPq, 16, Metric::kL2)).value();
  auto back = DeserializeQuantizer(untrained->Serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE((*back)->is_trained());
}

TEST(QuantizerTest, CorruptedBytesAreRejected) {
  const size_t d = 16, n = 300;
  auto data = Gaussian(n, d, 41);
  for (QuantKind kind : kAllKinds) {
    auto q = MakeTrained(kind, d, Metric::kL2, data, n);
    const std::string bytes = q->Serialize();
    // Every single-bit flip in every byte is caught (CRC32C detects all 1-bit errors).
    for (size_t i = 0; i < bytes.size(); i += std::max<size_t>(1, bytes.size() / 64)) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        auto r = DeserializeQuantizer(bad);
        ASSERT_FALSE(r.ok()) << QuantKindName(kind) << " byte " << i;
        EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
      }
    }
    EXPECT_EQ(DeserializeQuantizer(bytes.substr(0, bytes.size() - 1)).status().code(),
              StatusCode::kCorruption);
    EXPECT_EQ(DeserializeQuantizer(bytes + "x").status().code(), StatusCode::kCorruption);
    EXPECT_EQ(DeserializeQuantizer("").status().code(), StatusCode::kCorruption);
  }
}

TEST(QuantizerTest, QueryContextIsReusedWithoutGrowing) {
  const size_t d = 50, n = 300;
  auto data = Gaussian(n, d, 51);
  for (QuantKind kind : kAllKinds) {
    auto q = MakeTrained(kind, d, Metric::kCosine, data, n);
    QueryContext ctx = q->NewQueryContext();
    const size_t bytes = ctx.MemoryUsage();
    const float* lut = ctx.lut.data();
    for (size_t i = 0; i < 10; ++i) q->PrepareQuery(data.data() + i * d, &ctx);
    EXPECT_EQ(ctx.MemoryUsage(), bytes);
    EXPECT_EQ(ctx.lut.data(), lut);
  }
}

}  // namespace
}  // namespace skeg::index
