// Loading the shared real datasets (../shared/data, see SharedDataDir) for recall tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace skeg::testing {

// Reads up to max_rows rows of a texmex .fvecs / .ivecs file (per row: int32 d, then d values
// of T). Returns false (outputs unspecified) when the file is missing or malformed.
template <typename T>
bool ReadVecs(const std::string& path, size_t max_rows, std::vector<T>* out, size_t* dim) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->clear();
  *dim = 0;
  for (size_t r = 0; r < max_rows; ++r) {
    int32_t d = 0;
    if (!f.read(reinterpret_cast<char*>(&d), 4)) break;
    if (d <= 0 || (*dim != 0 && static_cast<size_t>(d) != *dim)) return false;
    *dim = static_cast<size_t>(d);
    const size_t at = out->size();
    out->resize(at + *dim);
    if (!f.read(reinterpret_cast<char*>(out->data() + at),
                static_cast<std::streamsize>(*dim * sizeof(T)))) {
      return false;
    }
  }
  return !out->empty();
}

// A cosine dataset: raw base rows and queries, and the exact top-k ids per query.
struct CosineDataset {
  std::string name;
  size_t d = 0, n = 0, nq = 0;
  std::vector<float> base;                   // n x d, as stored (not normalised)
  std::vector<float> queries;                // nq x d
  std::vector<std::vector<uint32_t>> truth;  // nq x k, best first
};

// Loads `name` (a folder of SharedDataDir()) with at most max_base rows and max_queries
// queries. The truth is the folder's gt.ivecs when `use_gt` (valid only when max_base covers
// the whole base), else computed by brute force over the loaded rows (cosine, ties to the
// smaller id, as the shipped ground truth). Returns false when the data is absent.
bool LoadCosineDataset(const std::string& name, size_t max_base, size_t max_queries, size_t k,
                       bool use_gt, CosineDataset* out);

}  // namespace skeg::testing
