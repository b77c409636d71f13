#include "testing/datasets.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "testing/temp_dir.h"

namespace skeg::testing {

namespace {

std::vector<float> Normalized(const float* v, size_t n, size_t d) {
  std::vector<float> out(v, v + n * d);
  for (size_t i = 0; i < n; ++i) {
    float* row = out.data() + i * d;
    double norm = 0;
    for (size_t j = 0; j < d; ++j) norm += double{row[j]} * row[j];
    const float inv = norm > 0 ? static_cast<float>(1 / std::sqrt(norm)) : 0.0f;
    for (size_t j = 0; j < d; ++j) row[j] *= inv;
  }
  return out;
}

}  // namespace

bool LoadCosineDataset(const std::string& name, size_t max_base, size_t max_queries, size_t k,
                       bool use_gt, CosineDataset* out) {
  const std::string root = SharedDataDir();
  if (root.empty()) return false;
  const std::string dir = root + "/" + name;
  size_t dq = 0;
  if (!ReadVecs(dir + "/base.fvecs", max_base, &out->base, &out->d) ||
      !ReadVecs(dir + "/query.fvecs", max_queries, &out->queries, &dq) || dq != out->d) {
    return false;
  }
  out->name = name;
  out->n = out->base.size() / out->d;
  out->nq = out->queries.size() / out->d;
  out->truth.clear();
  if (use_gt) {
    std::vector<int32_t> gt;
    size_t gk = 0;
    if (!ReadVecs(dir + "/gt.ivecs", out->nq, &gt, &gk) || gk < k) return false;
    for (size_t q = 0; q < out->nq; ++q) {
      out->truth.emplace_back(gt.begin() + static_cast<long>(q * gk),
                              gt.begin() + static_cast<long>(q * gk + k));
    }
    return true;
  }
  const std::vector<float> base = Normalized(out->base.data(), out->n, out->d);
  const std::vector<float> queries = Normalized(out->queries.data(), out->nq, out->d);
  std::vector<std::pair<float, uint32_t>> scored(out->n);
  const size_t take = std::min(k, out->n);
  for (size_t q = 0; q < out->nq; ++q) {
    const float* qv = queries.data() + q * out->d;
    for (size_t i = 0; i < out->n; ++i) {
      const float* row = base.data() + i * out->d;
      float dot = 0;
      for (size_t j = 0; j < out->d; ++j) dot += qv[j] * row[j];
      scored[i] = {-dot, static_cast<uint32_t>(i)};
    }
    std::partial_sort(scored.begin(), scored.begin() + static_cast<long>(take), scored.end());
    std::vector<uint32_t> top(take);
    for (size_t i = 0; i < take; ++i) top[i] = scored[i].second;
    out->truth.push_back(std::move(top));
  }
  return true;
}

}  // namespace skeg::testing
