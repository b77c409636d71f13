#include "protocol/native/messages.h"

#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "common/coding.h"

namespace skeg::protocol::native {
namespace {

constexpr size_t kMaxShortBytes = 0xFFFF;  // u16 length prefix (key, name, user, text)

// Builds a payload; remembers the first problem instead of failing each call. Refuses to grow
// past kMaxPayloadBytes so an oversized request is rejected without copying it all.
class PayloadWriter {
 public:
  explicit PayloadWriter(std::string* out) : out_(out) {}

  void U8(uint8_t v) { Raw(reinterpret_cast<const char*>(&v), 1); }
  void U16(uint16_t v) {
    char b[2];
    EncodeFixed16(b, v);
    Raw(b, 2);
  }
  void U32(uint32_t v) {
    char b[4];
    EncodeFixed32(b, v);
    Raw(b, 4);
  }
  void U64(uint64_t v) {
    char b[8];
    EncodeFixed64(b, v);
    Raw(b, 8);
  }
  void F32(float f) { Raw(reinterpret_cast<const char*>(&f), 4); }
  void Bool(bool b) { U8(b ? 1 : 0); }
  void Bytes(std::string_view s) { Raw(s.data(), s.size()); }
  // [u16 len][bytes]: key, name, user, password, text.
  void Short(std::string_view s, const char* what) {
    if (s.size() > kMaxShortBytes) return Fail(what);
    U16(static_cast<uint16_t>(s.size()));
    Bytes(s);
  }
  // [u32 len][bytes].
  void Value(std::string_view s) {
    if (s.size() > kMaxPayloadBytes) return Fail("value over 16 MiB");
    U32(static_cast<uint32_t>(s.size()));
    Bytes(s);
  }
  void Vec(const FloatView& v) {
    U32(v.dim);
    Raw(v.data, v.byte_size());
  }
  void Count(size_t n) {
    if (n > UINT32_MAX) return Fail("count over u32");
    U32(static_cast<uint32_t>(n));
  }
  void Fail(const char* what) {
    if (error_.empty()) error_ = what;
  }
  Status status() const {
    return error_.empty() ? Status::Ok() : Status::InvalidArgument("native encode: " + error_);
  }

 private:
  void Raw(const char* p, size_t n) {
    if (!error_.empty()) return;
    if (n > kMaxPayloadBytes - std::min<size_t>(out_->size(), kMaxPayloadBytes)) {
      return Fail("payload over 16 MiB");
    }
    out_->append(p, n);
  }
  std::string* out_;
  std::string error_;
};

// Reads a payload; every step checks the bytes present. `code` is kInvalidArgument for
// requests (per-request error) and kCorruption for replies (the server is broken).
class PayloadReader {
 public:
  PayloadReader(std::string_view payload, StatusCode code) : r_(payload), code_(code) {}

  size_t remaining() const { return r_.remaining(); }
  bool U8(uint8_t* v) { return r_.GetFixed8(v) || Fail("truncated u8 field"); }
  bool U16(uint16_t* v) { return r_.GetFixed16(v) || Fail("truncated u16 field"); }
  bool U32(uint32_t* v) { return r_.GetFixed32(v) || Fail("truncated u32 field"); }
  bool U64(uint64_t* v) { return r_.GetFixed64(v) || Fail("truncated u64 field"); }
  bool F32(float* f) {
    uint32_t bits;
    if (!U32(&bits)) return false;
    std::memcpy(f, &bits, 4);
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    return r_.GetBytes(n, out) || Fail("length larger than the payload");
  }
  bool Bool(bool* b) {
    uint8_t v;
    if (!U8(&v)) return false;
    if (v > 1) return Fail("boolean byte is neither 0 nor 1");
    *b = v == 1;
    return true;
  }
  bool Short(std::string_view* out) {
    uint16_t n;
    return U16(&n) && Bytes(n, out);
  }
  bool Name(std::string_view* out) {
    if (!Short(out)) return false;
    return IsValidUtf8(*out) || Fail("name is not valid UTF-8");
  }
  bool Value(std::string_view* out) {
    uint32_t n;
    return U32(&n) && Bytes(n, out);
  }
  bool Vec(FloatView* out) {
    uint32_t dim;
    if (!U32(&dim)) return false;
    std::string_view bytes;
    if (!Bytes(size_t{dim} * sizeof(float), &bytes)) return false;
    *out = FloatView{bytes.data(), dim};
    return true;
  }
  // [u32 n] where each of the n items needs at least `min_item_bytes`: n is checked against
  // the bytes present, so reserving n items afterwards is bounded by the payload size.
  bool Count(uint32_t* n, size_t min_item_bytes) {
    if (!U32(n)) return false;
    if (uint64_t{*n} * min_item_bytes > remaining()) {
      return Fail("count larger than the payload can hold");
    }
    return true;
  }
  bool End() { return remaining() == 0 || Fail("trailing bytes after the payload"); }
  bool Fail(const char* what) {
    if (error_ == nullptr) error_ = what;
    return false;
  }
  Status status(Opcode op) const {
    return Status(code_, std::string("native ") + std::string(OpcodeName(op)) + ": " +
                             (error_ ? error_ : "malformed payload"));
  }

 private:
  ByteReader r_;
  StatusCode code_;
  const char* error_ = nullptr;
};

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

void EncodeRequestPayload(const RequestBody& body, PayloadWriter& w) {
  std::visit(Overloaded{
                 [&](const GetRequest& r) { w.Short(r.key, "key over 65535 bytes"); },
                 [&](const SetRequest& r) {
                   if (r.key.size() > kMaxShortBytes) return w.Fail("key over 65535 bytes");
                   if (r.value.size() > kMaxPayloadBytes) return w.Fail("value over 16 MiB");
                   w.U16(static_cast<uint16_t>(r.key.size()));
                   w.U32(static_cast<uint32_t>(r.value.size()));
                   w.Bytes(r.key);
                   w.Bytes(r.value);
                 },
                 [&](const DelRequest& r) { w.Short(r.key, "key over 65535 bytes"); },
                 [&](const MGetRequest& r) {
                   w.Count(r.keys.size());
                   for (auto k : r.keys) w.Short(k, "key over 65535 bytes");
                 },
                 [&](const MSetRequest& r) {
                   w.Count(r.pairs.size());
                   for (const auto& kv : r.pairs) {
                     if (kv.key.size() > kMaxShortBytes) return w.Fail("key over 65535 bytes");
                     if (kv.value.size() > kMaxPayloadBytes) return w.Fail("value over 16 MiB");
                     w.U16(static_cast<uint16_t>(kv.key.size()));
                     w.U32(static_cast<uint32_t>(kv.value.size()));
                     w.Bytes(kv.key);
                     w.Bytes(kv.value);
                   }
                 },
                 [&](const ExistsRequest& r) { w.Short(r.key, "key over 65535 bytes"); },
                 [&](const MExistsRequest& r) {
                   w.Count(r.keys.size());
                   for (auto k : r.keys) w.Short(k, "key over 65535 bytes");
                 },
                 [&](const VIndexCreateRequest& r) {
                   w.Short(r.name, "name over 65535 bytes");
                   w.U32(r.dim);
                   w.U8(static_cast<uint8_t>(r.kind));
                   w.U8(static_cast<uint8_t>(r.backend));
                 },
                 [&](const VIndexDropRequest& r) { w.Short(r.name, "name over 65535 bytes"); },
                 [&](const VSetRequest& r) {
                   w.Short(r.name, "name over 65535 bytes");
                   w.U64(r.id);
                   w.Vec(r.vec);
                 },
                 [&](const VGetRequest& r) {
                   w.Short(r.name, "name over 65535 bytes");
                   w.U64(r.id);
                 },
                 [&](const VDelRequest& r) {
                   w.Short(r.name, "name over 65535 bytes");
                   w.U64(r.id);
                 },
                 [&](const VSearchRequest& r) {
                   w.Short(r.name, "name over 65535 bytes");
                   w.U32(r.k);
                   w.Vec(r.vec);
                   if (r.l_search != 0) w.U32(r.l_search);
                 },
                 [&](const AuthRequest& r) {
                   w.Short(r.user, "user over 65535 bytes");
                   w.Short(r.password, "password over 65535 bytes");
                 },
                 // VINDEX_LIST, PING, STATS, FLUSH, SHARDS, WHOAMI: empty payload.
                 [&](const auto&) {},
             },
             body);
}

// Parses the payload of request op `op` into `*body`.
bool DecodeRequestPayload(Opcode op, uint32_t flags, PayloadReader& r, RequestBody* body) {
  switch (op) {
    case Opcode::kGet: {
      GetRequest q;
      if (!r.Short(&q.key)) return false;
      *body = q;
      break;
    }
    case Opcode::kSet: {
      SetRequest q;
      uint16_t klen;
      uint32_t vlen;
      if (!r.U16(&klen) || !r.U32(&vlen) || !r.Bytes(klen, &q.key) || !r.Bytes(vlen, &q.value)) {
        return false;
      }
      if ((flags & kFlagSetNx) != 0) q.condition = SetCondition::kIfAbsent;
      if ((flags & kFlagSetXx) != 0) q.condition = SetCondition::kIfPresent;
      *body = q;
      break;
    }
    case Opcode::kDel: {
      DelRequest q;
      if (!r.Short(&q.key)) return false;
      *body = q;
      break;
    }
    case Opcode::kExists: {
      ExistsRequest q;
      if (!r.Short(&q.key)) return false;
      *body = q;
      break;
    }
    case Opcode::kMGet:
    case Opcode::kMExists: {
      uint32_t n;
      if (!r.Count(&n, 2)) return false;
      std::vector<std::string_view> keys;
      keys.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        if (!r.Short(&keys.emplace_back())) return false;
      }
      if (op == Opcode::kMGet) {
        *body = MGetRequest{std::move(keys)};
      } else {
        *body = MExistsRequest{std::move(keys)};
      }
      break;
    }
    case Opcode::kMSet: {
      uint32_t n;
      if (!r.Count(&n, 6)) return false;
      MSetRequest q;
      q.pairs.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        uint16_t klen;
        uint32_t vlen;
        KeyValue& kv = q.pairs.emplace_back();
        if (!r.U16(&klen) || !r.U32(&vlen) || !r.Bytes(klen, &kv.key) ||
            !r.Bytes(vlen, &kv.value)) {
          return false;
        }
      }
      *body = std::move(q);
      break;
    }
    case Opcode::kVIndexCreate: {
      VIndexCreateRequest q;
      uint8_t kind, backend;
      if (!r.Name(&q.name) || !r.U32(&q.dim) || !r.U8(&kind) || !r.U8(&backend)) return false;
      if (!IsKnownVectorKind(kind)) return r.Fail("unknown kind byte");
      if (!IsKnownIndexBackend(backend)) return r.Fail("unknown backend byte");
      q.kind = static_cast<VectorKind>(kind);
      q.backend = static_cast<IndexBackend>(backend);
      *body = q;
      break;
    }
    case Opcode::kVIndexDrop: {
      VIndexDropRequest q;
      if (!r.Name(&q.name)) return false;
      *body = q;
      break;
    }
    case Opcode::kVSet: {
      VSetRequest q;
      if (!r.Name(&q.name) || !r.U64(&q.id) || !r.Vec(&q.vec)) return false;
      *body = q;
      break;
    }
    case Opcode::kVGet: {
      VGetRequest q;
      if (!r.Name(&q.name) || !r.U64(&q.id)) return false;
      *body = q;
      break;
    }
    case Opcode::kVDel: {
      VDelRequest q;
      if (!r.Name(&q.name) || !r.U64(&q.id)) return false;
      *body = q;
      break;
    }
    case Opcode::kVSearch: {
      VSearchRequest q;
      if (!r.Name(&q.name) || !r.U32(&q.k) || !r.Vec(&q.vec)) return false;
      if (r.remaining() != 0 && !r.U32(&q.l_search)) return false;
      *body = q;
      break;
    }
    case Opcode::kAuth: {
      AuthRequest q;
      if (!r.Short(&q.user) || !r.Short(&q.password)) return false;
      *body = q;
      break;
    }
    case Opcode::kVIndexList:
      *body = VIndexListRequest{};
      break;
    case Opcode::kPing:
      *body = PingRequest{};
      break;
    case Opcode::kStats:
      *body = StatsRequest{};
      break;
    case Opcode::kFlush:
      *body = FlushRequest{};
      break;
    case Opcode::kShards:
      *body = ShardsRequest{};
      break;
    case Opcode::kWhoAmI:
      *body = WhoAmIRequest{};
      break;
    case Opcode::kOk:
    case Opcode::kErr:
    case Opcode::kContinued:
      return r.Fail("response-only op in a request");
  }
  return r.End();
}

void EncodeReplyPayload(const ReplyBody& body, PayloadWriter& w) {
  std::visit(
      Overloaded{
          [&](const EmptyReply&) {},
          [&](const BoolReply& b) { w.Bool(b.value); },
          [&](const ValueReply& v) { w.Value(v.value); },
          [&](const MGetReply& m) {
            w.Count(m.values.size());
            for (const auto& v : m.values) {
              if (v.has_value()) {
                w.U8(0);
                w.Value(*v);
              } else {
                w.U8(1);
              }
            }
          },
          [&](const CountReply& c) { w.U32(c.count); },
          [&](const VectorReply& v) {
            if (v.vec.size() > kMaxPayloadBytes / sizeof(float)) {
              return w.Fail("vector over 16 MiB");
            }
            w.U32(static_cast<uint32_t>(v.vec.size() * sizeof(float)));
            w.Bytes({reinterpret_cast<const char*>(v.vec.data()), v.vec.size() * sizeof(float)});
          },
          [&](const SearchReply& s) {
            w.Count(s.hits.size());
            for (const auto& h : s.hits) {
              w.U64(h.id);
              w.F32(h.score);
            }
          },
          [&](const IndexListReply& l) {
            w.Count(l.indexes.size());
            for (const auto& i : l.indexes) {
              w.Short(i.name, "name over 65535 bytes");
              w.U32(i.dim);
              w.U8(static_cast<uint8_t>(i.kind));
              w.U8(static_cast<uint8_t>(i.backend));
              w.U64(i.n_vectors);
            }
          },
          [&](const StatsReply& s) {
            w.U64(s.cache_bytes);
            w.U64(s.cache_evictions);
            w.U64(s.n_keys);
            w.U64(s.cache_budget_bytes);
          },
          [&](const ShardsReply& s) {
            w.Count(s.shards.size());
            for (const auto& sh : s.shards) {
              w.U32(sh.shard_id);
              w.U64(sh.cache_bytes);
              w.U64(sh.evictions);
              w.U64(sh.n_keys);
              w.U64(sh.budget_bytes);
            }
          },
          [&](const TextReply& t) { w.Short(t.text, "text over 65535 bytes"); },
      },
      body);
}

bool DecodeReplyPayload(ReplyShape shape, PayloadReader& r, ReplyBody* body) {
  switch (shape) {
    case ReplyShape::kEmpty:
      *body = EmptyReply{};
      break;
    case ReplyShape::kBool: {
      BoolReply b;
      if (!r.Bool(&b.value)) return false;
      *body = b;
      break;
    }
    case ReplyShape::kValue: {
      std::string_view v;
      if (!r.Value(&v)) return false;
      *body = ValueReply{std::string(v)};
      break;
    }
    case ReplyShape::kMGet: {
      uint32_t n;
      if (!r.Count(&n, 1)) return false;
      MGetReply m;
      m.values.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        uint8_t tag;
        if (!r.U8(&tag)) return false;
        if (tag == 1) {
          m.values.emplace_back(std::nullopt);
        } else if (tag == 0) {
          std::string_view v;
          if (!r.Value(&v)) return false;
          m.values.emplace_back(std::string(v));
        } else {
          return r.Fail("MGET entry tag is neither 0 nor 1");
        }
      }
      *body = std::move(m);
      break;
    }
    case ReplyShape::kCount: {
      CountReply c;
      if (!r.U32(&c.count)) return false;
      *body = c;
      break;
    }
    case ReplyShape::kVector: {
      uint32_t byte_len;
      std::string_view bytes;
      if (!r.U32(&byte_len)) return false;
      if (byte_len % sizeof(float) != 0) return r.Fail("vector byte_len not a multiple of 4");
      if (!r.Bytes(byte_len, &bytes)) return false;
      VectorReply v;
      v.vec.resize(byte_len / sizeof(float));
      if (byte_len != 0) std::memcpy(v.vec.data(), bytes.data(), byte_len);
      *body = std::move(v);
      break;
    }
    case ReplyShape::kSearch: {
      uint32_t n;
      if (!r.Count(&n, 12)) return false;
      SearchReply s;
      s.hits.resize(n);
      for (auto& h : s.hits) {
        if (!r.U64(&h.id) || !r.F32(&h.score)) return false;
      }
      *body = std::move(s);
      break;
    }
    case ReplyShape::kIndexList: {
      uint32_t n;
      if (!r.Count(&n, 16)) return false;
      IndexListReply l;
      l.indexes.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        std::string_view name;
        uint8_t kind, backend;
        IndexInfo& info = l.indexes.emplace_back();
        if (!r.Name(&name) || !r.U32(&info.dim) || !r.U8(&kind) || !r.U8(&backend) ||
            !r.U64(&info.n_vectors)) {
          return false;
        }
        info.name = std::string(name);
        info.kind = static_cast<VectorKind>(kind);  // passed through, see the header
        info.backend = static_cast<IndexBackend>(backend);
      }
      *body = std::move(l);
      break;
    }
    case ReplyShape::kStats: {
      StatsReply s;
      if (!r.U64(&s.cache_bytes) || !r.U64(&s.cache_evictions) || !r.U64(&s.n_keys) ||
          !r.U64(&s.cache_budget_bytes)) {
        return false;
      }
      *body = s;
      break;
    }
    case ReplyShape::kShards: {
      uint32_t n;
      if (!r.Count(&n, 36)) return false;
      ShardsReply s;
      s.shards.resize(n);
      for (auto& sh : s.shards) {
        if (!r.U32(&sh.shard_id) || !r.U64(&sh.cache_bytes) || !r.U64(&sh.evictions) ||
            !r.U64(&sh.n_keys) || !r.U64(&sh.budget_bytes)) {
          return false;
        }
      }
      *body = std::move(s);
      break;
    }
    case ReplyShape::kText: {
      std::string_view t;
      if (!r.Short(&t)) return false;
      *body = TextReply{std::string(t)};
      break;
    }
  }
  return r.End();
}

}  // namespace

bool IsKnownVectorKind(uint8_t kind) { return kind <= static_cast<uint8_t>(VectorKind::kPq); }
bool IsKnownIndexBackend(uint8_t backend) {
  return backend <= static_cast<uint8_t>(IndexBackend::kDisk);
}

Opcode OpcodeOf(const RequestBody& body) {
  static constexpr Opcode kOps[] = {
      Opcode::kGet,        Opcode::kSet,        Opcode::kDel,     Opcode::kMGet,
      Opcode::kMSet,       Opcode::kExists,     Opcode::kMExists, Opcode::kVIndexCreate,
      Opcode::kVIndexDrop, Opcode::kVSet,       Opcode::kVGet,    Opcode::kVDel,
      Opcode::kVSearch,    Opcode::kVIndexList, Opcode::kPing,    Opcode::kStats,
      Opcode::kFlush,      Opcode::kShards,     Opcode::kAuth,    Opcode::kWhoAmI,
  };
  static_assert(std::size(kOps) == std::variant_size_v<RequestBody>);
  return kOps[body.index()];
}

Status EncodeRequest(const RequestFrame& request, std::string* out) {
  if ((request.flags & (kFlagSetNx | kFlagSetXx)) != 0) {
    return Status::InvalidArgument("native encode: use SetRequest::condition, not SET_NX/SET_XX");
  }
  if ((request.flags & kReservedFlagsMask) != 0 || (request.flags & ~kKnownFlagsMask) != 0) {
    return Status::InvalidArgument("native encode: reserved or unknown flag bit");
  }
  uint32_t flags = request.flags;
  if (const auto* set = std::get_if<SetRequest>(&request.body)) {
    if (set->condition == SetCondition::kIfAbsent) flags |= kFlagSetNx;
    if (set->condition == SetCondition::kIfPresent) flags |= kFlagSetXx;
  }
  std::string payload;
  PayloadWriter w(&payload);
  EncodeRequestPayload(request.body, w);
  SKEG_RETURN_IF_ERROR(w.status());
  return AppendFrame(OpcodeOf(request.body), flags, request.req_id, payload, out);
}

Result<RequestFrame> DecodeRequest(const Frame& frame, std::string* scratch) {
  const FrameHeader& h = frame.header;
  if (!IsKnownOpcode(static_cast<uint8_t>(h.op))) {
    return Status::InvalidArgument("native: unknown op");
  }
  if (IsResponseOpcode(h.op)) {
    return Status::InvalidArgument("native: response-only op in a request");
  }
  if ((h.flags & kReservedFlagsMask) != 0) {
    return Status::InvalidArgument("native: reserved flag bit (BATCH/BATCH_END/CONTINUATION)");
  }
  if (h.op == Opcode::kSet && (h.flags & kFlagSetNx) != 0 && (h.flags & kFlagSetXx) != 0) {
    return Status::InvalidArgument("native SET: SET_NX and SET_XX together");
  }
  SKEG_ASSIGN_OR_RETURN(std::string_view payload, DecodePayload(frame, scratch));
  RequestFrame request;
  request.req_id = h.req_id;
  request.flags = h.flags;
  PayloadReader r(payload, StatusCode::kInvalidArgument);
  if (!DecodeRequestPayload(h.op, h.flags, r, &request.body)) return r.status(h.op);
  return request;
}

std::string_view PeekRequestKey(const Frame& frame) {
  if ((frame.header.flags & kFlagCompressedLz4) != 0) return {};
  const std::string_view p = frame.payload;
  size_t key_at = 0;
  switch (frame.header.op) {
    case Opcode::kGet:
    case Opcode::kDel:
    case Opcode::kExists:
      key_at = 2;  // [u16 klen][key]
      break;
    case Opcode::kSet:
      key_at = 6;  // [u16 klen][u32 vlen][key][value]
      break;
    default:
      return {};
  }
  if (p.size() < key_at) return {};
  const size_t klen = DecodeFixed16(p.data());
  if (p.size() - key_at < klen) return {};
  return p.substr(key_at, klen);
}

ReplyShape ReplyShapeFor(Opcode op, uint32_t request_flags) {
  switch (op) {
    case Opcode::kGet:
      return ReplyShape::kValue;
    case Opcode::kSet:
      return (request_flags & (kFlagSetNx | kFlagSetXx)) != 0 ? ReplyShape::kBool
                                                              : ReplyShape::kEmpty;
    case Opcode::kDel:
    case Opcode::kExists:
    case Opcode::kVDel:
      return ReplyShape::kBool;
    case Opcode::kMGet:
      return ReplyShape::kMGet;
    case Opcode::kMExists:
      return ReplyShape::kCount;
    case Opcode::kVGet:
      return ReplyShape::kVector;
    case Opcode::kVSearch:
      return ReplyShape::kSearch;
    case Opcode::kVIndexList:
      return ReplyShape::kIndexList;
    case Opcode::kStats:
      return ReplyShape::kStats;
    case Opcode::kShards:
      return ReplyShape::kShards;
    case Opcode::kWhoAmI:
      return ReplyShape::kText;
    default:
      return ReplyShape::kEmpty;
  }
}

ReplyShape ShapeOf(const ReplyBody& body) { return static_cast<ReplyShape>(body.index()); }

Status EncodeOk(uint64_t req_id, const ReplyBody& body, std::string* out, uint32_t flags) {
  if ((flags & ~kFlagCompressedLz4) != 0) {
    return Status::InvalidArgument("native encode: an Ok frame carries only COMPRESSED_LZ4");
  }
  std::string payload;
  PayloadWriter w(&payload);
  EncodeReplyPayload(body, w);
  SKEG_RETURN_IF_ERROR(w.status());
  return AppendFrame(Opcode::kOk, flags, req_id, payload, out);
}

void EncodeError(uint64_t req_id, NativeErrorCode code, std::string_view message,
                 std::string* out) {
  if (message.size() > kMaxErrorMessageBytes) {
    size_t n = kMaxErrorMessageBytes;
    // message[n] is the first byte cut; if it continues a character, drop that character.
    while (n > 0 && (static_cast<uint8_t>(message[n]) & 0xC0) == 0x80) --n;
    message = message.substr(0, n);
  }
  char payload[2 + kMaxErrorMessageBytes];
  payload[0] = static_cast<char>(code);
  payload[1] = static_cast<char>(message.size());
  std::memcpy(payload + 2, message.data(), message.size());
  // Cannot fail: no flags, payload <= 257 bytes.
  AppendFrame(Opcode::kErr, 0, req_id, std::string_view(payload, 2 + message.size()), out)
      .IgnoreError();
}

Result<Response> DecodeResponse(const Frame& frame, ReplyShape expected, std::string* scratch) {
  const FrameHeader& h = frame.header;
  if (h.op != Opcode::kOk && h.op != Opcode::kErr) {
    return Status::Corruption("native response: op " + std::string(OpcodeName(h.op)) +
                              " is not Ok or Err");
  }
  auto payload = DecodePayload(frame, scratch);
  if (!payload.has_value()) {
    return Status::Corruption("native response: " + std::string(payload.error().message()));
  }
  Response response;
  response.req_id = h.req_id;
  response.flags = h.flags;
  PayloadReader r(*payload, StatusCode::kCorruption);
  if (h.op == Opcode::kErr) {
    uint8_t code;
    uint8_t len;
    std::string_view msg;
    if (!r.U8(&code) || !r.U8(&len) || !r.Bytes(len, &msg) || !r.End()) return r.status(h.op);
    response.error = ErrorReply{static_cast<NativeErrorCode>(code), std::string(msg)};
    return response;
  }
  if (!DecodeReplyPayload(expected, r, &response.body)) return r.status(h.op);
  return response;
}

Status StatusFromError(const ErrorReply& error) {
  switch (error.code) {
    case NativeErrorCode::kNotFound:
      return Status::NotFound(error.message);
    case NativeErrorCode::kInvalidRequest:
      return Status::InvalidArgument(error.message);
    case NativeErrorCode::kInternal:
      return Status::Internal(error.message);
    case NativeErrorCode::kUnauthorized:
      return Status::Unauthenticated(error.message);
    case NativeErrorCode::kQuotaExceeded:
      return Status::ResourceExhausted(error.message);
    case NativeErrorCode::kReadOnly:
      return Status::PermissionDenied("ReadOnly: " + error.message);
  }
  return Status::Internal("error code " + std::to_string(static_cast<int>(error.code)) + ": " +
                          error.message);
}

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t j = 1; j < len; ++j) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace skeg::protocol::native
