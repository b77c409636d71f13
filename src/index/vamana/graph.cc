#include "index/vamana/graph.h"

#include <algorithm>
#include <cstring>

namespace skeg::index::vamana {

Status SpanRowSource::ReadRows(size_t begin, size_t n, float* out) const {
  if (begin + n > size()) return Status::InvalidArgument("row range out of bounds");
  if (n > 0) std::memcpy(out, rows_.data() + begin * dim_, n * dim_ * sizeof(float));
  return Status::Ok();
}

void Graph::SetNeighbors(size_t node, std::span<const uint32_t> ids) {
  const size_t n = std::min<size_t>(ids.size(), degree);
  std::copy_n(ids.begin(), n, neighbors.begin() + static_cast<ptrdiff_t>(node * degree));
  counts[node] = static_cast<uint32_t>(n);
}

}  // namespace skeg::index::vamana
