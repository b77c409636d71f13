#include "server/native_session.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>

#include "common/coding.h"
#include "index/collection/collection.h"
#include "protocol/errors.h"
#include "server/command/engine.h"
#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"

namespace skeg::server {

namespace native = protocol::native;
using protocol::NativeErrorCode;

namespace {

constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
// SKEG.WHOAMI's text for the anonymous tenant (spec/COMMANDS.md); tenants are not built yet.
constexpr std::string_view kAnonymousTenant = "00000000000000000000000000000000";

// The native code of an error the gate or a handler wrote as text, by its RESP prefix.
NativeErrorCode CodeForErrorText(std::string_view text) {
  const std::string_view word = text.substr(0, text.find(' '));
  if (word == "NOAUTH" || word == "WRONGPASS" || word == "NOPERM") {
    return NativeErrorCode::kUnauthorized;
  }
  if (word == "READONLY") return NativeErrorCode::kReadOnly;
  if (word == "OOM") return NativeErrorCode::kQuotaExceeded;
  if (word == "BUSY") return NativeErrorCode::kInternal;
  return NativeErrorCode::kInvalidRequest;
}

void PutU8(std::string* out, bool v) { out->push_back(v ? '\1' : '\0'); }

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  EncodeFixed32(b, v);
  out->append(b, sizeof(b));
}

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  EncodeFixed64(b, v);
  out->append(b, sizeof(b));
}

void PutF32(std::string* out, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  PutU32(out, bits);
}

// Decimal text of v into `*out` (the argument storage of a native request).
std::string_view DecimalArg(uint64_t v, std::string* out) {
  char b[24];
  const auto [end, ec] = std::to_chars(b, b + sizeof(b), v);
  out->assign(b, static_cast<size_t>(end - b));
  return *out;
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// Reads `key=<value>` from a SKEG.VINDEX.LIST line; empty when absent.
std::string_view LineField(std::string_view line, std::string_view key) {
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    const std::string_view token = line.substr(pos, end - pos);
    if (token.size() > key.size() && token.substr(0, key.size()) == key &&
        token[key.size()] == '=') {
      return token.substr(key.size() + 1);
    }
    pos = end + 1;
  }
  return {};
}

// The command-table entry an opcode runs as, looked up by name on first use and then kept per
// opcode (the opcode identifies the command: no name lookup per request). Null for names
// outside the table. Thread-safe.
const CommandSpec* SpecForOp(native::Opcode op, std::string_view name) {
  static std::atomic<const CommandSpec*> cache[256];
  std::atomic<const CommandSpec*>& slot = cache[static_cast<uint8_t>(op)];
  const CommandSpec* spec = slot.load(std::memory_order_relaxed);
  if (spec == nullptr) {
    spec = FindCommand(name);
    slot.store(spec, std::memory_order_relaxed);
  }
  return spec;
}

}  // namespace

// Adapts a handler's protocol-neutral reply to the Ok payload of one native op, writing the
// response frame straight into the connection's output: Begin() reserves the 24-byte header,
// the handler's values append the payload, Finish() fills in the header, or replaces the frame
// with an Err frame when the handler reported an error (or replied in a shape the op's adapter
// does not expect, a bug reported as Internal).
class NativeReplyBuilder final : public protocol::ReplyBuilder {
 public:
  // How the handler's reply becomes the op's Ok payload.
  enum class Adapter : uint8_t {
    kEmpty,      // PING, SET, MSET, AUTH: a status line -> empty
    kWritten,    // SET NX/XX: "OK" -> [1], null -> [0]
    kValue,      // GET: bulk -> [u32 len][value], null -> Err NotFound
    kBool,       // DEL, EXISTS: integer n -> [n > 0]
    kCount,      // MEXISTS (EXISTS k...): integer -> [u32 count]
    kMGet,       // MGET: array of n bulk/null -> [u32 n] n x ([0][u32 len][value] | [1])
    kStats,      // STATS (DBSIZE): integer n_keys -> 4 x u64
    kShards,     // SHARDS (DBSIZE): integer n_keys -> [u32 1][u32 0][u64 x 4]
    kVector,     // VGET: bulk -> [u32 byte_len][f32...], null -> Err NotFound
    kSearch,     // VSEARCH: array of 2n (bulk id, double score) -> [u32 n] n x [u64 id][f32]
    kIndexList,  // VINDEX_LIST: SKEG.VINDEX.LIST's text -> [u32 n] n x [name][u32 dim]...
  };

  // Starts the response to `req_id` at the end of `*out` (kept until Finish()).
  void Begin(uint64_t req_id, Adapter adapter, std::string* out) {
    req_id_ = req_id;
    adapter_ = adapter;
    out_ = out;
    start_ = out->size();
    out->resize(start_ + native::kHeaderBytes);
    state_ = State::kWaiting;
    remaining_ = 0;
    error_.reset();
  }

  // For kStats / kShards: the page cache figures reported alongside the key count.
  void set_cache(uint64_t bytes, uint64_t evictions, uint64_t budget) {
    cache_bytes_ = bytes;
    cache_evictions_ = evictions;
    budget_bytes_ = budget;
  }

  // Completes the frame. `suppress_ok`: NO_REPLY, drop the frame on success. Returns true
  // when the reply was Ok.
  bool Finish(bool suppress_ok) {
    if (!error_ && state_ != State::kDone) {
      Fail(NativeErrorCode::kInternal, "internal error: incomplete reply from the command");
    }
    const size_t payload = out_->size() - start_ - native::kHeaderBytes;
    if (!error_ && payload > native::kMaxPayloadBytes) {
      Fail(NativeErrorCode::kInvalidRequest,
           "reply exceeds the native frame limit of 16 MiB (use RESP for larger values)");
    }
    if (error_) {
      out_->resize(start_);
      native::EncodeError(req_id_, error_->first, error_->second, out_);
      return false;
    }
    if (suppress_ok) {
      out_->resize(start_);
      return true;
    }
    native::FrameHeader header;
    header.op = native::Opcode::kOk;
    header.req_id = req_id_;
    header.payload_len = static_cast<uint32_t>(payload);
    native::EncodeHeader(header, out_->data() + start_);
    return true;
  }

  void SimpleString(std::string_view /*text*/) override {
    if (!Accept()) return;
    if (adapter_ == Adapter::kEmpty) return Done();
    if (adapter_ == Adapter::kWritten) {
      PutU8(out_, true);
      return Done();
    }
    Unexpected();
  }

  void Integer(int64_t value) override {
    if (!Accept()) return;
    const uint64_t n = value < 0 ? 0 : static_cast<uint64_t>(value);
    switch (adapter_) {
      case Adapter::kBool:
        PutU8(out_, n > 0);
        return Done();
      case Adapter::kCount:
        PutU32(out_, static_cast<uint32_t>(n));
        return Done();
      case Adapter::kStats:
        PutU64(out_, cache_bytes_);
        PutU64(out_, cache_evictions_);
        PutU64(out_, n);  // n_keys
        PutU64(out_, budget_bytes_);
        return Done();
      case Adapter::kShards:
        PutU32(out_, 1);
        PutU32(out_, 0);  // shard_id: one shard (the whole server)
        PutU64(out_, cache_bytes_);
        PutU64(out_, cache_evictions_);
        PutU64(out_, n);  // n_keys
        PutU64(out_, budget_bytes_);
        return Done();
      default:
        return Unexpected();
    }
  }

  void Bulk(std::string_view value) override {
    if (!Accept()) return;
    if (adapter_ == Adapter::kSearch && state_ == State::kElements && remaining_ % 2 == 0) {
      const std::optional<uint64_t> id = ParseDecimal(value);
      if (!id) return Unexpected();
      PutU64(out_, *id);
      return Element();
    }
    if (adapter_ == Adapter::kIndexList && state_ == State::kWaiting) return IndexList(value);
    if ((adapter_ == Adapter::kValue || adapter_ == Adapter::kVector) &&
        state_ == State::kWaiting) {
      PutU32(out_, static_cast<uint32_t>(value.size()));
      out_->append(value);
      return Done();
    }
    if (adapter_ == Adapter::kMGet && state_ == State::kElements) {
      PutU8(out_, false);
      PutU32(out_, static_cast<uint32_t>(value.size()));
      out_->append(value);
      return Element();
    }
    Unexpected();
  }

  void Null() override {
    if (!Accept()) return;
    if (adapter_ == Adapter::kValue && state_ == State::kWaiting) {
      return Fail(NativeErrorCode::kNotFound, "key not found");
    }
    if (adapter_ == Adapter::kVector && state_ == State::kWaiting) {
      return Fail(NativeErrorCode::kNotFound, "id not found");
    }
    if (adapter_ == Adapter::kWritten && state_ == State::kWaiting) {
      PutU8(out_, false);
      return Done();
    }
    if (adapter_ == Adapter::kMGet && state_ == State::kElements) {
      PutU8(out_, true);
      return Element();
    }
    Unexpected();
  }

  void ArrayStart(size_t count) override {
    if (!Accept()) return;
    if (adapter_ == Adapter::kSearch && state_ == State::kWaiting && count % 2 == 0) {
      PutU32(out_, static_cast<uint32_t>(count / 2));
      remaining_ = count;
      state_ = count == 0 ? State::kDone : State::kElements;
      return;
    }
    if (adapter_ != Adapter::kMGet || state_ != State::kWaiting) return Unexpected();
    PutU32(out_, static_cast<uint32_t>(count));
    remaining_ = count;
    state_ = count == 0 ? State::kDone : State::kElements;
  }

  void NullArray() override { Unexpected(); }
  void Double(double value) override {
    if (!Accept()) return;
    if (adapter_ == Adapter::kSearch && state_ == State::kElements && remaining_ % 2 == 1) {
      PutF32(out_, static_cast<float>(value));
      return Element();
    }
    Unexpected();
  }
  void Bool(bool /*value*/) override { Unexpected(); }
  void MapStart(size_t /*pairs*/) override { Unexpected(); }
  void SetStart(size_t /*count*/) override { Unexpected(); }
  void PushStart(size_t /*count*/) override { Unexpected(); }
  void Verbatim(std::string_view /*text*/, std::string_view /*format*/) override { Unexpected(); }
  void BigNumber(std::string_view /*digits*/) override { Unexpected(); }

  // An error decided by the session itself (not by a handler).
  void Fail(NativeErrorCode code, std::string_view message) {
    if (error_) return;
    error_.emplace(code, std::string(message));
    state_ = State::kDone;
  }

 protected:
  void WriteError(std::string_view full_text) override {
    Fail(CodeForErrorText(full_text), full_text.empty() ? "ERR" : full_text);
  }

  void WriteStatusError(const Status& status) override {
    const std::string_view message = status.message();
    Fail(protocol::NativeErrorFor(status.code()),
         message.empty() ? std::string_view(protocol::RespErrorPrefix(status.code())) : message);
  }

 private:
  enum class State : uint8_t { kWaiting, kElements, kDone };

  // False when the reply is already complete (a second top-level value is a handler bug).
  bool Accept() {
    if (error_) return false;
    if (state_ == State::kDone) {
      Unexpected();
      return false;
    }
    return true;
  }
  void Done() { state_ = State::kDone; }

  // SKEG.VINDEX.LIST's lines (`name=<n> dim=<d> kind=<k> backend=<b> metric=<m> n_vectors=<n>`,
  // sorted by name; names never contain spaces or '=') as [u32 n] n x ([u16 len][name]
  // [u32 dim][u8 kind][u8 backend][u64 n_vectors]).
  void IndexList(std::string_view text) {
    std::string body;
    uint32_t n = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) continue;
      const std::string_view name = LineField(line, "name");
      const std::optional<uint64_t> dim = ParseDecimal(LineField(line, "dim"));
      const std::optional<uint64_t> count = ParseDecimal(LineField(line, "n_vectors"));
      Result<index::VectorKind> kind = index::ParseVectorKind(LineField(line, "kind"));
      Result<index::Backend> backend = index::ParseBackend(LineField(line, "backend"));
      if (name.empty() || name.size() > 0xFFFF || !dim || !count || !kind.ok() || !backend.ok()) {
        return Unexpected();
      }
      char len[2];
      EncodeFixed16(len, static_cast<uint16_t>(name.size()));
      body.append(len, sizeof(len));
      body.append(name);
      PutU32(&body, static_cast<uint32_t>(*dim));
      body.push_back(static_cast<char>(*kind));
      body.push_back(static_cast<char>(*backend));
      PutU64(&body, *count);
      ++n;
    }
    PutU32(out_, n);
    out_->append(body);
    Done();
  }
  void Element() {
    if (--remaining_ == 0) state_ = State::kDone;
  }
  void Unexpected() {
    Fail(NativeErrorCode::kInternal, "internal error: unexpected reply shape from the command");
  }

  uint64_t req_id_ = 0;
  Adapter adapter_ = Adapter::kEmpty;
  std::string* out_ = nullptr;
  size_t start_ = 0;
  State state_ = State::kWaiting;
  size_t remaining_ = 0;
  uint64_t cache_bytes_ = 0;
  uint64_t cache_evictions_ = 0;
  uint64_t budget_bytes_ = 0;
  std::optional<std::pair<NativeErrorCode, std::string>> error_;
};

NativeSession::NativeSession(Dispatcher* dispatcher, std::string addr, std::string laddr,
                             const NativeSessionOptions& options)
    : dispatcher_(dispatcher),
      options_(options),
      parser_(options.parser),
      builder_(std::make_unique<NativeReplyBuilder>()),
      conn_(dispatcher->OpenConnection(std::move(addr), std::move(laddr))) {}

NativeSession::~NativeSession() { dispatcher_->CloseConnection(conn_.get()); }

NativeSession::Outcome NativeSession::Process(std::string* input, std::string* output) {
  conn_->clock_mark.reset();  // new input: the time before it arrived is not a request's
  size_t offset = 0;
  size_t prefetched_to = 0;  // frames before this input offset had their keys prefetched
  Outcome outcome = Outcome::kNeedInput;
  while (true) {
    native::Frame frame;
    const native::ParseResult r = parser_.Parse(std::string_view(*input).substr(offset), &frame);
    if (r.status == native::ParseStatus::kError) {
      // A broken header: nothing after it can be trusted. No reply (spec), just close.
      outcome = Outcome::kClose;
      break;
    }
    if (r.status == native::ParseStatus::kNeedMore) break;
    if (offset >= prefetched_to) prefetched_to = PrefetchWindow(*input, offset, frame, r.consumed);
    // Handle before dropping the bytes: the request's views point into them.
    if (options_.defer_durability) {
      DeferredAcks deferred(&durability_ticket_);
      HandleFrame(frame, output);
    } else {
      HandleFrame(frame, output);
    }
    offset += r.consumed;
    if (output->size() > options_.output_limit_bytes) {
      outcome = Outcome::kAbort;
      break;
    }
    if (conn_->close_after_reply) {
      outcome = Outcome::kClose;
      break;
    }
    if (output->size() >= options_.yield_output_bytes) {
      outcome = Outcome::kYield;
      break;
    }
  }
  input->erase(0, offset);
  request_.Clear();
  return outcome;
}

size_t NativeSession::PrefetchWindow(std::string_view input, size_t offset,
                                     const native::Frame& frame, size_t consumed) {
  std::array<std::string_view, storage::Store::kMaxPrefetchKeys> keys;
  size_t n = 0;
  if (const std::string_view key = native::PeekRequestKey(frame); !key.empty()) keys[n++] = key;
  size_t pos = offset + consumed;
  while (n < keys.size() && input.size() - pos >= native::kHeaderBytes) {
    // A complete frame behind this one (a broken header ends the window; Parse() judges it).
    Result<native::FrameHeader> header = native::DecodeHeader(input.substr(pos));
    if (!header.ok() || input.size() - pos - native::kHeaderBytes < header->payload_len) break;
    const native::Frame next{*header,
                             input.substr(pos + native::kHeaderBytes, header->payload_len)};
    if (const std::string_view key = native::PeekRequestKey(next); !key.empty()) keys[n++] = key;
    pos += native::kHeaderBytes + header->payload_len;
  }
  // A frame alone has nothing to overlap its misses with: its own lookup takes them anyway.
  if (n >= 2) dispatcher_->engine()->store()->PrefetchKeys(std::span(keys.data(), n));
  return pos;
}

void NativeSession::Dispatch() {
  if (spec_ != nullptr) {
    dispatcher_->Dispatch(*spec_, request_, conn_.get(), builder_.get());
  } else {
    dispatcher_->Dispatch(request_, conn_.get(), builder_.get());
  }
}

bool NativeSession::CheckAuthenticated() {
  if (conn_->authenticated) return true;
  builder_->Fail(NativeErrorCode::kUnauthorized, kNoAuth);
  return false;
}

void NativeSession::HandleFrame(const native::Frame& frame, std::string* output) {
  using Adapter = NativeReplyBuilder::Adapter;
  const uint64_t req_id = frame.header.req_id;
  Result<native::RequestFrame> decoded = native::DecodeRequest(frame, &scratch_);
  if (!decoded) {
    native::EncodeError(req_id, NativeErrorCode::kInvalidRequest, decoded.error().message(),
                        output);
    return;
  }
  const uint32_t flags = decoded->flags;
  std::optional<ForceSyncScope> force_sync;
  if ((flags & native::kFlagWaitDurable) != 0) force_sync.emplace();

  NativeReplyBuilder& rb = *builder_;
  request_.Clear();
  const auto start = [&](Adapter adapter, std::string_view command) {
    rb.Begin(req_id, adapter, output);
    request_.Append(command);
    spec_ = SpecForOp(frame.header.op, command);
  };
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, native::GetRequest>) {
          start(Adapter::kValue, "GET");
          request_.Append(body.key);
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::SetRequest>) {
          const bool conditional = body.condition != native::SetCondition::kAlways;
          start(conditional ? Adapter::kWritten : Adapter::kEmpty, "SET");
          request_.Append(body.key);
          request_.Append(body.value);
          if (body.condition == native::SetCondition::kIfAbsent) request_.Append("NX");
          if (body.condition == native::SetCondition::kIfPresent) request_.Append("XX");
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::DelRequest>) {
          start(Adapter::kBool, "DEL");
          request_.Append(body.key);
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::ExistsRequest>) {
          start(Adapter::kBool, "EXISTS");
          request_.Append(body.key);
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::MGetRequest> ||
                             std::is_same_v<T, native::MExistsRequest>) {
          constexpr bool kMGet = std::is_same_v<T, native::MGetRequest>;
          start(kMGet ? Adapter::kMGet : Adapter::kCount, kMGet ? "MGET" : "EXISTS");
          if (body.keys.empty()) {
            // The commands need at least one key; an empty batch has an empty answer.
            if (!CheckAuthenticated()) return;
            if (kMGet) {
              rb.ArrayStart(0);
            } else {
              rb.Integer(0);
            }
            return;
          }
          request_.Reserve(body.keys.size() + 1);
          for (std::string_view key : body.keys) request_.Append(key);
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::MSetRequest>) {
          start(Adapter::kEmpty, "MSET");
          if (body.pairs.empty()) {
            if (CheckAuthenticated()) rb.Ok();
            return;
          }
          request_.Reserve(2 * body.pairs.size() + 1);
          for (const native::KeyValue& kv : body.pairs) {
            request_.Append(kv.key);
            request_.Append(kv.value);
          }
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::PingRequest>) {
          start(Adapter::kEmpty, "PING");
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::AuthRequest>) {
          start(Adapter::kEmpty, "AUTH");
          request_.Append(body.user);
          request_.Append(body.password);
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::StatsRequest> ||
                             std::is_same_v<T, native::ShardsRequest>) {
          constexpr bool kStats = std::is_same_v<T, native::StatsRequest>;
          start(kStats ? Adapter::kStats : Adapter::kShards, "DBSIZE");
          if (const storage::PageCache* cache = dispatcher_->engine()->options().page_cache) {
            const storage::PageCache::Stats cs = cache->stats();
            rb.set_cache(cs.bytes, cs.evictions, cs.capacity_bytes);
          } else {
            rb.set_cache(0, 0, 0);
          }
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::FlushRequest>) {
          // A sync barrier, not FLUSHDB: every write acknowledged so far is made durable.
          start(Adapter::kEmpty, "FLUSH");
          if (!CheckAuthenticated()) return;
          // Not dispatched: the next request must not count this sync as its own latency.
          conn_->clock_mark.reset();
          if (Status s = dispatcher_->engine()->store()->Sync(); !s.ok()) return rb.Error(s);
          rb.Ok();
        } else if constexpr (std::is_same_v<T, native::WhoAmIRequest>) {
          start(Adapter::kEmpty, "WHOAMI");
          if (!CheckAuthenticated()) return;
          std::string text = "tenant=";
          text += kAnonymousTenant;
          text += " user=" + conn_->user + " mode=single-tenant";
          rb.Ok();
          // [u16 len][text]; the user name came from AUTH, itself at most 65 535 bytes.
          const size_t len = std::min<size_t>(text.size(), 0xFFFF);
          char b[2];
          EncodeFixed16(b, static_cast<uint16_t>(len));
          output->append(b, sizeof(b));
          output->append(text, 0, len);
        } else if constexpr (std::is_same_v<T, native::VIndexCreateRequest>) {
          start(Adapter::kEmpty, "SKEG.VINDEX.CREATE");
          request_.Append(body.name);
          request_.Append(DecimalArg(body.dim, &arg_text_[0]));
          request_.Append(index::VectorKindName(static_cast<index::VectorKind>(body.kind)));
          request_.Append(index::BackendName(static_cast<index::Backend>(body.backend)));
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::VIndexDropRequest>) {
          start(Adapter::kEmpty, "SKEG.VINDEX.DROP");
          request_.Append(body.name);
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::VSetRequest>) {
          start(Adapter::kEmpty, "SKEG.VSET");
          request_.Append(body.name);
          request_.Append(DecimalArg(body.id, &arg_text_[0]));
          request_.Append(std::string_view(body.vec.data, body.vec.byte_size()));
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::VGetRequest>) {
          start(Adapter::kVector, "SKEG.VGET");
          request_.Append(body.name);
          request_.Append(DecimalArg(body.id, &arg_text_[0]));
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::VDelRequest>) {
          start(Adapter::kBool, "SKEG.VDEL");
          request_.Append(body.name);
          request_.Append(DecimalArg(body.id, &arg_text_[0]));
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::VSearchRequest>) {
          start(Adapter::kSearch, "SKEG.VSEARCH");
          request_.Append(body.name);
          request_.Append(DecimalArg(body.k, &arg_text_[0]));
          request_.Append(DecimalArg(body.l_search, &arg_text_[1]));
          request_.Append(std::string_view(body.vec.data, body.vec.byte_size()));
          Dispatch();
        } else if constexpr (std::is_same_v<T, native::VIndexListRequest>) {
          start(Adapter::kIndexList, "SKEG.VINDEX.LIST");
          Dispatch();
        } else {
          static_assert(std::is_same_v<T, void>, "every native request is handled");
        }
      },
      decoded->body);
  rb.Finish(native::SuppressesReply(frame.header.op, flags));
}

}  // namespace skeg::server
