// Vector commands: SKEG.VINDEX.CREATE/DROP/LIST/INFO/CONSOLIDATE, SKEG.VSET/VMSET/VGET/VDEL and
// SKEG.VSEARCH (spec/COMMANDS.md "Vectors"). Cmd* parse the arguments and build the reply; the
// engine work is index::Collection's (reached through Engine::vectors()), which writes through
// Engine::Write, so durability tiers, deferred acknowledgements and WAIT_DURABLE apply.
// The native protocol's vector ops run these same handlers (native_session.cc).
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "index/collection/collection.h"
#include "index/filter/filter.h"
#include "server/command/arg_parse.h"
#include "server/command/families.h"

namespace skeg::server {
namespace {

using index::Collection;

constexpr std::string_view kNoVectors = "ERR vector indexes are not available";

std::optional<uint64_t> ParseU64(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// The collection, or null after writing the error reply.
Collection* Vectors(CommandContext& cx) {
  Collection* c = cx.engine->vectors();
  if (c == nullptr) cx.rb->Error(kNoVectors);
  return c;
}

// Appends the little-endian f32 vector in `blob` to *out. Errors: a length that is not a
// multiple of 4 (the dimension and NaN/Inf are checked by the collection).
Status AppendVector(std::string_view blob, std::vector<float>* out) {
  if (blob.size() % sizeof(float) != 0) {
    return Status::InvalidArgument("vector byte length " + std::to_string(blob.size()) +
                                   " is not a multiple of 4");
  }
  const size_t at = out->size();
  out->resize(at + blob.size() / sizeof(float));
  if (!blob.empty()) std::memcpy(out->data() + at, blob.data(), blob.size());
  return Status::Ok();
}

Status BadId() { return Status::InvalidArgument("id must be an unsigned 64-bit integer"); }

// Per-thread argument buffers: steady-state requests do not allocate for their vectors.
thread_local std::vector<float> t_floats;
thread_local index::SearchResult t_result;

}  // namespace

// SKEG.VINDEX.CREATE name dim kind backend [METRIC m] [M n] [EF_CONSTRUCTION n] [ALPHA x]
// SKEG.VINDEX.CREATE name dim backend [options]   (kind tq2)
void CmdVIndexCreate(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  const auto& a = cx.args;
  index::IndexSpec spec;
  spec.name.assign(a[1]);
  if (Status s = index::ValidateIndexName(spec.name); !s.ok()) return cx.rb->Error(s);
  const std::optional<int64_t> dim = ParseInt64(a[2]);
  if (!dim || *dim < 1 || *dim > static_cast<int64_t>(index::kMaxVectorDim)) {
    return cx.rb->Error("ERR bad dim '" + std::string(a[2]) +
                        "': must be an integer between 1 and " +
                        std::to_string(index::kMaxVectorDim));
  }
  spec.dim = static_cast<uint32_t>(*dim);
  size_t i = 4;
  if (Result<index::Backend> b = index::ParseBackend(a[3]); b.ok()) {
    spec.kind = index::VectorKind::kTq2;  // the three-argument form
    spec.backend = *b;
  } else {
    Result<index::VectorKind> kind = index::ParseVectorKind(a[3]);
    if (!kind.ok()) return cx.rb->Error(kind.status());
    spec.kind = *kind;
    if (a.size() < 5) return cx.rb->Error(SyntaxError());
    Result<index::Backend> backend = index::ParseBackend(a[4]);
    if (!backend.ok()) return cx.rb->Error(backend.status());
    spec.backend = *backend;
    i = 5;
  }
  for (; i < a.size(); i += 2) {
    if (i + 1 >= a.size()) return cx.rb->Error(SyntaxError());
    const std::string_view opt = a[i];
    const std::string_view val = a[i + 1];
    if (EqualsIgnoreCase(opt, "METRIC")) {
      Result<index::Metric> m = index::ParseMetric(val);
      if (!m.ok()) {
        return cx.rb->Error("ERR unknown metric '" + std::string(val) +
                            "' (expected cosine, l2 or ip)");
      }
      spec.metric = *m;
    } else if (EqualsIgnoreCase(opt, "M") || EqualsIgnoreCase(opt, "EF_CONSTRUCTION")) {
      const std::optional<int64_t> n = ParseInt64(val);
      if (!n || *n < 1 || *n > 65536) {
        return cx.rb->Error("ERR bad " + AsciiUpper(opt) + " '" + std::string(val) +
                            "': must be a positive integer");
      }
      (EqualsIgnoreCase(opt, "M") ? spec.m : spec.ef_construction) = static_cast<uint32_t>(*n);
    } else if (EqualsIgnoreCase(opt, "ALPHA")) {
      const std::optional<long double> x = ParseLongDouble(val);
      if (!x) return cx.rb->Error("ERR bad ALPHA '" + std::string(val) + "': must be a number");
      spec.alpha = static_cast<float>(*x);
    } else {
      return cx.rb->Error(SyntaxError());
    }
  }
  if (Status s = c->Create(spec); !s.ok()) return cx.rb->Error(s);
  cx.rb->Ok();
}

void CmdVIndexDrop(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  if (Status s = c->Drop(cx.args[1]); !s.ok()) return cx.rb->Error(s);
  cx.rb->Ok();
}

// One line per index: name=<n> dim=<d> kind=<k> backend=<b> metric=<m> n_vectors=<n>.
void CmdVIndexList(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  std::string text;
  for (const index::IndexInfo& info : c->List()) {
    text += "name=" + info.spec.name + " dim=" + std::to_string(info.spec.dim) +
            " kind=" + std::string(index::VectorKindName(info.spec.kind)) +
            " backend=" + std::string(index::BackendName(info.spec.backend)) +
            " metric=" + std::string(index::MetricName(info.spec.metric)) +
            " n_vectors=" + std::to_string(info.n_vectors) + "\n";
  }
  cx.rb->Bulk(text);
}

void CmdVIndexInfo(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  Result<index::IndexInfo> info = c->Info(cx.args[1]);
  if (!info.ok()) return cx.rb->Error(info.status());
  const index::IndexInfo& i = *info;
  protocol::ReplyBuilder& rb = *cx.rb;
  const auto num = [&rb](std::string_view key, uint64_t value) {
    rb.Bulk(key);
    rb.Integer(static_cast<int64_t>(value));
  };
  const auto str = [&rb](std::string_view key, std::string_view value) {
    rb.Bulk(key);
    rb.Bulk(value);
  };
  const bool disk = i.spec.backend == index::Backend::kDisk;
  rb.MapStart(19);
  str("name", i.spec.name);
  num("dim", i.spec.dim);
  str("kind", index::VectorKindName(i.spec.kind));
  str("backend", index::BackendName(i.spec.backend));
  str("metric", index::MetricName(i.spec.metric));
  num("n_vectors", i.n_vectors);
  num("deleted", i.deleted);
  num("ram_bytes", i.ram_bytes);
  num("disk_bytes", i.disk_bytes);
  // Disk: one graph file per version in effect; flat indexes keep their records in the log.
  num("segments", i.graph_version != 0 ? 1 : 0);
  num("pending", i.pending);  // writes not yet merged into the graph
  num("graph_version", i.graph_version);
  num("m", i.spec.m);
  num("ef_construction", i.spec.ef_construction);
  rb.Bulk("alpha");
  rb.Double(i.spec.alpha);
  num("trained", i.trained ? 1 : 0);
  num("train_rows", i.train_rows);
  num("rerank_candidates_per_k", i.rerank_candidates_per_k);
  str("search", disk                             ? "beam search + delta scan, exact re-rank"
                : i.rerank_candidates_per_k == 0 ? "exact scan"
                                                 : "code scan + exact re-rank");
}

void CmdVIndexConsolidate(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  // Flat indexes have nothing pending: a no-op once the index is known to exist.
  if (Status s = c->Consolidate(cx.args[1]); !s.ok()) return cx.rb->Error(s);
  cx.rb->Ok();
}

// SKEG.VSET name id vec [PAYLOAD blob] [ATTR u64]
void CmdVSet(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  const auto& a = cx.args;
  index::VectorWrite w;
  const std::optional<uint64_t> id = ParseU64(a[2]);
  if (!id) return cx.rb->Error(BadId());
  w.id = *id;
  for (size_t i = 4; i < a.size(); i += 2) {
    if (i + 1 >= a.size()) return cx.rb->Error(SyntaxError());
    if (EqualsIgnoreCase(a[i], "PAYLOAD")) {
      w.payload = a[i + 1];
    } else if (EqualsIgnoreCase(a[i], "ATTR")) {
      const std::optional<uint64_t> attr = ParseU64(a[i + 1]);
      if (!attr) return cx.rb->Error("ERR ATTR must be an unsigned 64-bit integer");
      w.attr = *attr;
    } else {
      return cx.rb->Error(SyntaxError());
    }
  }
  t_floats.clear();
  if (Status s = AppendVector(a[3], &t_floats); !s.ok()) return cx.rb->Error(s);
  w.vec = t_floats;
  if (Status s = c->Put(a[1], std::span<const index::VectorWrite>(&w, 1)); !s.ok()) {
    return cx.rb->Error(s);
  }
  cx.rb->Ok();
}

// SKEG.VMSET name id vec payload [id vec payload ...]: one atomic batch.
void CmdVMSet(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  const auto& a = cx.args;
  if ((a.size() - 2) % 3 != 0) {
    return cx.rb->Error("ERR wrong number of arguments for 'skeg.vmset' command");
  }
  const size_t n = (a.size() - 2) / 3;
  t_floats.clear();
  std::vector<size_t> offsets(n + 1, 0);
  std::vector<index::VectorWrite> writes(n);
  for (size_t i = 0; i < n; ++i) {
    const std::optional<uint64_t> id = ParseU64(a[2 + 3 * i]);
    if (!id) return cx.rb->Error(BadId());
    writes[i].id = *id;
    writes[i].payload = a[4 + 3 * i];
    if (Status s = AppendVector(a[3 + 3 * i], &t_floats); !s.ok()) return cx.rb->Error(s);
    offsets[i + 1] = t_floats.size();
  }
  // Spans only once every vector is appended (appending may move the buffer).
  for (size_t i = 0; i < n; ++i) {
    writes[i].vec =
        std::span<const float>(t_floats.data() + offsets[i], offsets[i + 1] - offsets[i]);
  }
  if (Status s = c->Put(a[1], writes); !s.ok()) return cx.rb->Error(s);
  cx.rb->Integer(static_cast<int64_t>(n));
}

void CmdVGet(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  const std::optional<uint64_t> id = ParseU64(cx.args[2]);
  if (!id) return cx.rb->Error(BadId());
  Result<std::optional<std::string>> v = c->Get(cx.args[1], *id);
  if (!v.ok()) return cx.rb->Error(v.status());
  if (!v->has_value()) return cx.rb->Null();
  cx.rb->Bulk(**v);
}

void CmdVDel(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  const std::optional<uint64_t> id = ParseU64(cx.args[2]);
  if (!id) return cx.rb->Error(BadId());
  Result<bool> removed = c->Delete(cx.args[1], *id);
  if (!removed.ok()) return cx.rb->Error(removed.status());
  cx.rb->Integer(*removed ? 1 : 0);
}

// SKEG.VSEARCH name k l_search vec [WITHPAYLOAD] [FILTER expr] [RANGE lo hi]
void CmdVSearch(CommandContext& cx) {
  Collection* c = Vectors(cx);
  if (c == nullptr) return;
  const auto& a = cx.args;
  index::SearchOptions opts;
  const std::optional<int64_t> k = ParseInt64(a[2]);
  if (!k || *k < 1 || *k > static_cast<int64_t>(index::kMaxSearchK)) {
    return cx.rb->Error("ERR k must be between 1 and " + std::to_string(index::kMaxSearchK));
  }
  opts.k = static_cast<size_t>(*k);
  // l_search tunes graph searches; flat indexes scan everything and ignore it.
  const std::optional<int64_t> l_search = ParseInt64(a[3]);
  if (!l_search || *l_search < 0 || *l_search > 65536) {
    return cx.rb->Error("ERR l_search must be an integer between 0 and 65536");
  }
  opts.l_search = static_cast<uint32_t>(*l_search);
  std::optional<index::Filter> filter;
  for (size_t i = 5; i < a.size(); ++i) {
    if (EqualsIgnoreCase(a[i], "WITHPAYLOAD")) {
      opts.with_payload = true;
    } else if (EqualsIgnoreCase(a[i], "FILTER") && i + 1 < a.size()) {
      Result<index::Filter> f = index::Filter::Parse(a[++i]);
      if (!f.ok()) return cx.rb->Error("ERR bad FILTER: " + std::string(f.status().message()));
      filter = std::move(*f);
    } else if (EqualsIgnoreCase(a[i], "RANGE") && i + 2 < a.size()) {
      const std::optional<uint64_t> lo = ParseU64(a[i + 1]);
      const std::optional<uint64_t> hi = ParseU64(a[i + 2]);
      if (!lo || !hi) return cx.rb->Error("ERR RANGE bounds must be unsigned 64-bit integers");
      opts.has_range = true;
      opts.range_lo = *lo;
      opts.range_hi = *hi;
      i += 2;
    } else {
      return cx.rb->Error(SyntaxError());
    }
  }
  if (filter) opts.filter = &*filter;
  t_floats.clear();
  if (Status s = AppendVector(a[4], &t_floats); !s.ok()) return cx.rb->Error(s);
  index::SearchResult& res = t_result;
  if (Status s = c->Search(a[1], t_floats, opts, &res); !s.ok()) return cx.rb->Error(s);
  protocol::ReplyBuilder& rb = *cx.rb;
  rb.ArrayStart(res.hits.size() * (opts.with_payload ? 3 : 2));
  char digits[24];
  for (size_t i = 0; i < res.hits.size(); ++i) {
    const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), res.hits[i].id);
    rb.Bulk(std::string_view(digits, static_cast<size_t>(end - digits)));
    rb.Double(res.hits[i].score);
    if (opts.with_payload) {
      if (res.payloads[i]) {
        rb.Bulk(*res.payloads[i]);
      } else {
        rb.Null();
      }
    }
  }
}

}  // namespace skeg::server
