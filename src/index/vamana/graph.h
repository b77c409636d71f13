// Shared types of the Vamana (DiskANN) backend: the rows a build reads, the in-RAM graph it
// produces, and the progress callback. The builder (vamana_build.h) turns rows into a Graph; the
// disk writer (disk_index.h) lays a Graph and its rows out as one index file; the disk reader
// loads a Graph back for a merge.
//
// Node numbers are dense u32 in [0, n). External (user) ids are u64 and live only in the disk
// file's node records and id map; the builder never sees them.
//
// Thread-safety: a RowSource must allow concurrent ReadRows calls from many threads (the build
// is multithreaded). A Graph is a plain value: concurrent readers are fine, writers need
// external synchronisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skeg::index::vamana {

inline constexpr uint32_t kNoNode = UINT32_MAX;

// Random access to n rows of dim() f32 values (the vectors being indexed, as the user gave
// them: not normalised).
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual size_t size() const = 0;
  virtual size_t dim() const = 0;
  // Copies rows [begin, begin + n) into out (n * dim() floats, row-major). REQUIRES:
  // begin + n <= size(). Errors: I/O and corruption errors of the backing store.
  [[nodiscard]] virtual Status ReadRows(size_t begin, size_t n, float* out) const = 0;
};

// A RowSource over rows already in memory (not owned; must outlive the source).
class SpanRowSource final : public RowSource {
 public:
  SpanRowSource(std::span<const float> rows, size_t dim) : rows_(rows), dim_(dim) {}
  size_t size() const override { return dim_ == 0 ? 0 : rows_.size() / dim_; }
  size_t dim() const override { return dim_; }
  Status ReadRows(size_t begin, size_t n, float* out) const override;

 private:
  std::span<const float> rows_;
  size_t dim_;
};

// A directed graph of bounded out-degree: node i's neighbours are
// neighbors[i * degree, i * degree + counts[i]). Memory: n * (4 * degree + 4) bytes.
struct Graph {
  uint32_t degree = 0;        // R: the maximum out-degree
  uint32_t medoid = kNoNode;  // the search's entry point
  std::vector<uint32_t> neighbors;
  std::vector<uint32_t> counts;

  size_t size() const { return counts.size(); }
  std::span<const uint32_t> Neighbors(size_t node) const {
    return {neighbors.data() + node * degree, counts[node]};
  }
  // Sizes the graph for n nodes with no edges.
  void Reset(size_t n, uint32_t r) {
    degree = r;
    medoid = kNoNode;
    neighbors.assign(n * r, kNoNode);
    counts.assign(n, 0);
  }
  void SetNeighbors(size_t node, std::span<const uint32_t> ids);
  size_t MemoryUsage() const {
    return neighbors.capacity() * sizeof(uint32_t) + counts.capacity() * sizeof(uint32_t);
  }
};

// Progress of a long operation: phase name ("partition", "build pass 1", "write", ...), units
// done and total. Called from any thread, at most every few thousand units; may be null.
using ProgressFn = std::function<void(std::string_view phase, uint64_t done, uint64_t total)>;

}  // namespace skeg::index::vamana
