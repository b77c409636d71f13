// Native protocol v1: typed requests and replies, their payload encoders and decoders.
//
// Payload shapes (spec/NATIVE_PROTOCOL.md, all little-endian):
//   key   = [u16 len][bytes]            name = [u16 len][UTF-8 bytes]
//   value = [u32 len][bytes]            vec  = [u32 dim][f32 x dim]
//   bool  = one byte, 0 or 1
//
//   op             request payload                                 Ok payload (ReplyShape)
//   GET     0x01   [u16 klen][key]                                 [u32 vlen][value] (kValue)
//   SET     0x02   [u16 klen][u32 vlen][key][value]                empty (kEmpty); with
//                                                                  SET_NX/SET_XX 1 byte (kBool)
//   DEL     0x03   [u16 klen][key]                                 1 byte (kBool)
//   MGET    0x04   [u32 n] n x key                                 [u32 n] n x ([u8 0][u32 vlen]
//                                                                  [value] | [u8 1]) (kMGet)
//   MSET    0x05   [u32 n] n x [u16 klen][u32 vlen][key][value]    empty
//   EXISTS  0x06   key                                             1 byte (kBool)
//   MEXISTS 0x07   [u32 n] n x key                                 [u32 count] (kCount)
//   VINDEX_CREATE 0x10 [name][u32 dim][u8 kind][u8 backend]        empty
//   VINDEX_DROP   0x11 [name]                                      empty
//   VSET    0x12   [name][u64 id][vec]                             empty
//   VGET    0x13   [name][u64 id]                                  [u32 byte_len][f32 x dim]
//   VDEL    0x14   [name][u64 id]                                  1 byte (kBool)
//   VSEARCH 0x15   [name][u32 k][vec] + optional [u32 l_search]    [u32 n] n x [u64 id][f32]
//   VINDEX_LIST 0x16 empty                                         [u32 n] n x [name][u32 dim]
//                                                                  [u8 kind][u8 backend][u64 n]
//   PING 0x80, FLUSH 0x82: empty                                   empty
//   STATS   0x81   empty                                           4 x u64 (kStats)
//   SHARDS  0x83   empty                                           [u32 n] n x [u32 shard_id]
//                                                                  [u64 x 4] (kShards)
//   AUTH    0x84   [u16 ulen][user][u16 plen][password]            empty
//   WHOAMI  0x85   empty                                           [u16 len][text] (kText)
//   Err     0xC1   (response)                                      [u8 code][u8 msg_len][msg]
//
// Decoding rules: every count and length is checked against the bytes actually present
// before anything is allocated; trailing bytes after a complete payload are an error; names
// must be valid UTF-8; unknown kind/backend bytes in a request are an error (in a reply they
// are passed through, so a v1 client can list indexes of a newer kind).
//
// Views and ownership: request structs hold views (std::string_view, FloatView) into the
// decoded payload, valid as long as that payload (the caller's input buffer, or the scratch
// string given to DecodeRequest) is unchanged. Reply structs own their data.
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "protocol/errors.h"
#include "protocol/native/frame.h"

namespace skeg::protocol::native {

// `kind` byte of VINDEX_CREATE / VINDEX_LIST.
enum class VectorKind : uint8_t {
  kF32 = 0,
  kInt8 = 1,
  kBinary = 2,
  kTq1 = 3,
  kTq2 = 4,
  kTq4 = 5,
  kPq = 6,  // [ext]
};
// `backend` byte.
enum class IndexBackend : uint8_t { kFlat = 0, kDisk = 1 };

bool IsKnownVectorKind(uint8_t kind);
bool IsKnownIndexBackend(uint8_t backend);

// A vector of f32 on the wire: `dim` floats at `data` (little-endian, any alignment).
// Non-owning: `data` must outlive the view.
struct FloatView {
  const char* data = nullptr;
  uint32_t dim = 0;

  // Views `v` (REQUIRES: v.size() fits in u32).
  static FloatView Of(std::span<const float> v) {
    return {reinterpret_cast<const char*>(v.data()), static_cast<uint32_t>(v.size())};
  }
  size_t byte_size() const { return size_t{dim} * sizeof(float); }
  // REQUIRES: i < dim.
  float operator[](size_t i) const {
    float f;
    std::memcpy(&f, data + i * sizeof(float), sizeof(float));
    return f;
  }
  std::vector<float> ToVector() const {
    std::vector<float> v(dim);
    if (dim != 0) std::memcpy(v.data(), data, byte_size());
    return v;
  }
};

// Condition of a SET, carried by the SET_NX / SET_XX flag bits.
enum class SetCondition : uint8_t { kAlways, kIfAbsent /* SET_NX */, kIfPresent /* SET_XX */ };

struct KeyValue {
  std::string_view key;
  std::string_view value;
};

struct GetRequest {
  std::string_view key;
};
struct SetRequest {
  std::string_view key;
  std::string_view value;
  SetCondition condition = SetCondition::kAlways;
};
struct DelRequest {
  std::string_view key;
};
struct MGetRequest {
  std::vector<std::string_view> keys;
};
struct MSetRequest {
  std::vector<KeyValue> pairs;
};
struct ExistsRequest {
  std::string_view key;
};
struct MExistsRequest {
  std::vector<std::string_view> keys;
};
struct VIndexCreateRequest {
  std::string_view name;
  uint32_t dim = 0;
  VectorKind kind = VectorKind::kF32;
  IndexBackend backend = IndexBackend::kFlat;
};
struct VIndexDropRequest {
  std::string_view name;
};
struct VSetRequest {
  std::string_view name;
  uint64_t id = 0;
  FloatView vec;
};
struct VGetRequest {
  std::string_view name;
  uint64_t id = 0;
};
struct VDelRequest {
  std::string_view name;
  uint64_t id = 0;
};
struct VSearchRequest {
  std::string_view name;
  uint32_t k = 0;
  FloatView vec;
  // 0 = index default. Encoded only when non-zero (the spec's optional trailing u32).
  uint32_t l_search = 0;
};
struct VIndexListRequest {};
struct PingRequest {};
struct StatsRequest {};
struct FlushRequest {};
struct ShardsRequest {};
struct AuthRequest {
  std::string_view user;
  std::string_view password;
};
struct WhoAmIRequest {};

using RequestBody =
    std::variant<GetRequest, SetRequest, DelRequest, MGetRequest, MSetRequest, ExistsRequest,
                 MExistsRequest, VIndexCreateRequest, VIndexDropRequest, VSetRequest, VGetRequest,
                 VDelRequest, VSearchRequest, VIndexListRequest, PingRequest, StatsRequest,
                 FlushRequest, ShardsRequest, AuthRequest, WhoAmIRequest>;

// The opcode of a request body.
Opcode OpcodeOf(const RequestBody& body);

// One request frame. `flags` carries WAIT_DURABLE, NO_REPLY and COMPRESSED_LZ4; the SET_NX /
// SET_XX bits are derived from SetRequest::condition on encode and folded into it on decode
// (they stay visible in `flags` after decoding too).
struct RequestFrame {
  uint64_t req_id = 0;
  uint32_t flags = 0;
  RequestBody body;
};

// Appends the complete frame (header + payload, compressed when flags ask) to `out`.
// Errors (kInvalidArgument, nothing appended): a key or name over 65 535 bytes, a user or
// password over 65 535 bytes, a count or length over u32, a reserved or unknown flag bit, the
// SET_NX/SET_XX bits in `flags` (use SetRequest::condition), a payload over 16 MiB.
[[nodiscard]] Status EncodeRequest(const RequestFrame& request, std::string* out);

// Decodes the request in `frame` (a frame from FrameParser). Decompresses into `*scratch`
// when COMPRESSED_LZ4 is set; the result's views point into frame.payload or *scratch.
// Errors are all per request (kInvalidArgument, answer Err InvalidRequest, keep the
// connection): a response-only op, a reserved flag bit (BATCH, BATCH_END, CONTINUATION),
// SET_NX together with SET_XX, a bad LZ4 payload, a truncated field, a count larger than the
// payload can hold, trailing bytes, a name that is not UTF-8, an unknown kind/backend byte.
// SET_NX/SET_XX on ops other than SET are ignored.
Result<RequestFrame> DecodeRequest(const Frame& frame, std::string* scratch);

// The key of a GET, SET, DEL or EXISTS request frame, read without decoding it: empty for
// other ops, a COMPRESSED_LZ4 payload, or a payload too short to hold the key (and for an
// empty key). Allocates nothing and is never an error (DecodeRequest judges the frame later);
// when DecodeRequest accepts the frame, this is the request's key. A session uses it to find
// the keys of the pipelined frames behind the one it runs (to prefetch their lookups).
std::string_view PeekRequestKey(const Frame& frame);

// ----- Replies -----

struct SearchHit {
  uint64_t id = 0;
  float score = 0;
  bool operator==(const SearchHit&) const = default;
};
struct IndexInfo {
  std::string name;
  uint32_t dim = 0;
  VectorKind kind = VectorKind::kF32;
  IndexBackend backend = IndexBackend::kFlat;
  uint64_t n_vectors = 0;
  bool operator==(const IndexInfo&) const = default;
};
struct ShardInfo {
  uint32_t shard_id = 0;
  uint64_t cache_bytes = 0;
  uint64_t evictions = 0;
  uint64_t n_keys = 0;
  uint64_t budget_bytes = 0;
  bool operator==(const ShardInfo&) const = default;
};

struct EmptyReply {
  bool operator==(const EmptyReply&) const = default;
};
struct BoolReply {
  bool value = false;
  bool operator==(const BoolReply&) const = default;
};
struct ValueReply {  // GET
  std::string value;
  bool operator==(const ValueReply&) const = default;
};
struct MGetReply {
  std::vector<std::optional<std::string>> values;  // nullopt = missing key
  bool operator==(const MGetReply&) const = default;
};
struct CountReply {  // MEXISTS
  uint32_t count = 0;
  bool operator==(const CountReply&) const = default;
};
struct VectorReply {  // VGET
  std::vector<float> vec;
  bool operator==(const VectorReply&) const = default;
};
struct SearchReply {
  std::vector<SearchHit> hits;  // best first
  bool operator==(const SearchReply&) const = default;
};
struct IndexListReply {
  std::vector<IndexInfo> indexes;  // sorted by name
  bool operator==(const IndexListReply&) const = default;
};
struct StatsReply {
  uint64_t cache_bytes = 0;
  uint64_t cache_evictions = 0;
  uint64_t n_keys = 0;
  uint64_t cache_budget_bytes = 0;
  bool operator==(const StatsReply&) const = default;
};
struct ShardsReply {
  std::vector<ShardInfo> shards;
  bool operator==(const ShardsReply&) const = default;
};
struct TextReply {  // WHOAMI
  std::string text;
  bool operator==(const TextReply&) const = default;
};

using ReplyBody =
    std::variant<EmptyReply, BoolReply, ValueReply, MGetReply, CountReply, VectorReply, SearchReply,
                 IndexListReply, StatsReply, ShardsReply, TextReply>;

// Which ReplyBody alternative an Ok reply to (op, request flags) carries. The Ok payload is
// not self-describing, so the decoder needs it. Values are the variant indices.
enum class ReplyShape : uint8_t {
  kEmpty,
  kBool,
  kValue,
  kMGet,
  kCount,
  kVector,
  kSearch,
  kIndexList,
  kStats,
  kShards,
  kText,
};
ReplyShape ReplyShapeFor(Opcode op, uint32_t request_flags);
ReplyShape ShapeOf(const ReplyBody& body);

// An Err payload.
struct ErrorReply {
  NativeErrorCode code = NativeErrorCode::kInternal;
  std::string message;
  bool operator==(const ErrorReply&) const = default;
};

// A decoded response frame: either `error` is set (op Err) or `body` holds the Ok payload.
struct Response {
  uint64_t req_id = 0;
  uint32_t flags = 0;
  std::optional<ErrorReply> error;
  ReplyBody body;
};

// Appends an Ok frame carrying `body` for request `req_id`. `flags` may be 0 or
// kFlagCompressedLz4. Errors (kInvalidArgument, nothing appended): a name or text over
// 65 535 bytes, a count over u32, a payload over 16 MiB, other flag bits.
[[nodiscard]] Status EncodeOk(uint64_t req_id, const ReplyBody& body, std::string* out,
                              uint32_t flags = 0);

// Appends an Err frame [u8 code][u8 msg_len][msg]. The message is cut to at most 255 bytes,
// backing off to a UTF-8 character boundary so the cut text stays valid UTF-8. Cannot fail.
// A server maps a Status with protocol::NativeErrorFor(status.code()) (protocol/errors.h).
void EncodeError(uint64_t req_id, NativeErrorCode code, std::string_view message, std::string* out);
// Decodes a response frame. Ok payloads are parsed as `expected`; Err payloads always as
// ErrorReply (an unknown code byte is kept as is). COMPRESSED_LZ4 is honoured via *scratch.
// Errors (kCorruption: the peer is broken, the client should drop the connection): a
// request-only or reserved op (CONTINUED), a bad LZ4 block, an Ok/Err payload that does not
// parse exactly as its shape.
Result<Response> DecodeResponse(const Frame& frame, ReplyShape expected, std::string* scratch);

// The client-side Status for an Err reply: NotFound -> kNotFound, InvalidRequest ->
// kInvalidArgument, Internal -> kInternal, Unauthorized -> kUnauthenticated, QuotaExceeded ->
// kResourceExhausted, ReadOnly -> kPermissionDenied, unknown codes -> kInternal. The message
// is the server's; ReadOnly and unknown codes get a "ReadOnly: " / "error code N: " prefix so
// they stay distinguishable.
Status StatusFromError(const ErrorReply& error);

// True when `text` is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace skeg::protocol::native
