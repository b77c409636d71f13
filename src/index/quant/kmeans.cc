// k-means for PQ codebooks. Distances use |x|^2 - 2 x.c + |c|^2 with the centroids stored
// dimension-major, so the inner loop runs over centroids and vectorises for any (small) d.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "index/quant/internal/kinds.h"

namespace skeg::index::internal {
namespace {

// dist[c] = |c|^2 - 2 x.c for every centroid (the |x|^2 term is common to all, so omitted).
void PartialDistances(const float* x, const float* ct, const float* cnorm, size_t k, size_t d,
                      float* __restrict__ dist) {
  for (size_t c = 0; c < k; ++c) dist[c] = cnorm[c];
  for (size_t t = 0; t < d; ++t) {
    const float m2x = -2 * x[t];
    const float* __restrict__ row = ct + t * k;
    for (size_t c = 0; c < k; ++c) dist[c] += m2x * row[c];
  }
}

// Index of the smallest of dist[0, k), the lowest index on ties. Two passes: the minimum with
// eight independent lanes (MINPS, vectorised), then the first index holding it. A one-pass
// compare-and-select scan is a serial dependency chain that dominated PQ encoding.
size_t ArgMin(const float* dist, size_t k) {
  constexpr size_t kLanes = 8;
  float lane[kLanes];
  for (size_t l = 0; l < kLanes; ++l) lane[l] = std::numeric_limits<float>::infinity();
  size_t c = 0;
  for (; c + kLanes <= k; c += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) lane[l] = dist[c + l] < lane[l] ? dist[c + l] : lane[l];
  }
  float m = std::numeric_limits<float>::infinity();
  for (size_t l = 0; l < kLanes; ++l) m = lane[l] < m ? lane[l] : m;
  for (; c < k; ++c) m = dist[c] < m ? dist[c] : m;
  for (size_t i = 0; i < k; ++i) {
    if (dist[i] == m) return i;
  }
  return 0;  // only when every distance is NaN
}

}  // namespace

void TransposeCentroids(const float* centroids, size_t k, size_t d, float* ct, float* cnorm) {
  for (size_t c = 0; c < k; ++c) {
    float s = 0;
    for (size_t t = 0; t < d; ++t) {
      ct[t * k + c] = centroids[c * d + t];
      s += centroids[c * d + t] * centroids[c * d + t];
    }
    cnorm[c] = s;
  }
}

namespace {

float L2(const float* a, const float* b, size_t d) {
  float s = 0;
  for (size_t t = 0; t < d; ++t) s += (a[t] - b[t]) * (a[t] - b[t]);
  return s;
}

}  // namespace

size_t NearestCentroidTransposed(const float* x, const float* ct, const float* cnorm, size_t k,
                                 size_t d) {
  float dist[256];
  PartialDistances(x, ct, cnorm, k, d, dist);
  return ArgMin(dist, k);
}

size_t NearestCentroid(const float* x, const float* centroids, size_t k, size_t d) {
  size_t best = 0;
  float best_d = std::numeric_limits<float>::infinity();
  for (size_t c = 0; c < k; ++c) {
    const float dist = L2(x, centroids + c * d, d);
    if (dist < best_d) {
      best_d = dist;
      best = c;
    }
  }
  return best;
}

void KMeans(const float* x, size_t n, size_t d, size_t k, uint32_t iterations, uint64_t seed,
            float* centroids) {
  SKEG_CHECK(n >= k && k >= 1);
  SplitMix64 rng(seed);
  // k-means++: each next seed is drawn with probability proportional to D(x)^2.
  std::vector<float> nearest(n, std::numeric_limits<float>::infinity());
  size_t pick = rng.Uniform(n);
  for (size_t c = 0; c < k; ++c) {
    std::copy(x + pick * d, x + (pick + 1) * d, centroids + c * d);
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      nearest[i] = std::min(nearest[i], L2(x + i * d, centroids + c * d, d));
      total += nearest[i];
    }
    if (c + 1 == k) break;
    if (total <= 0) {
      pick = rng.Uniform(n);  // every point coincides with a centroid: any choice will do
      continue;
    }
    double target = rng.UniformDouble() * total;
    pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      target -= nearest[i];
      if (target < 0) {
        pick = i;
        break;
      }
    }
  }

  // Lloyd iterations.
  std::vector<float> ct(d * k), cnorm(k), dist(k), sums(k * d);
  std::vector<uint32_t> assign(n), counts(k);
  for (uint32_t it = 0; it < iterations; ++it) {
    TransposeCentroids(centroids, k, d, ct.data(), cnorm.data());
    std::fill(sums.begin(), sums.end(), 0.0f);
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t i = 0; i < n; ++i) {
      const float* xi = x + i * d;
      PartialDistances(xi, ct.data(), cnorm.data(), k, d, dist.data());
      const size_t best = ArgMin(dist.data(), k);
      assign[i] = static_cast<uint32_t>(best);
      ++counts[best];
      for (size_t t = 0; t < d; ++t) sums[best * d + t] += xi[t];
    }
    for (size_t c = 0; c < k; ++c) {
      if (counts[c] == 0) continue;
      const float inv = 1.0f / static_cast<float>(counts[c]);
      for (size_t t = 0; t < d; ++t) centroids[c * d + t] = sums[c * d + t] * inv;
    }
    // An empty cluster takes the point worst served by its centroid; that point is then
    // assigned to it, so the next empty cluster takes another one.
    for (size_t c = 0; c < k; ++c) {
      if (counts[c] != 0) continue;
      size_t worst = 0;
      float worst_err = -std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < n; ++i) {
        const float full = L2(x + i * d, centroids + assign[i] * d, d);
        if (full > worst_err) {
          worst_err = full;
          worst = i;
        }
      }
      std::copy(x + worst * d, x + (worst + 1) * d, centroids + c * d);
      assign[worst] = static_cast<uint32_t>(c);
    }
  }
}

}  // namespace skeg::index::internal
