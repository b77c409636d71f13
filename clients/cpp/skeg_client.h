// skeg::client: a small blocking C++ client for skeg's native binary protocol v1
// (spec/NATIVE_PROTOCOL.md), built on the server's own codec (protocol/native).
//
//   auto client = skeg::client::Client::Connect("127.0.0.1", 7379);
//   if (!client) return client.status();
//   SKEG_RETURN_IF_ERROR((*client)->Set("k", "v"));
//   Result<std::string> v = (*client)->Get("k");          // kNotFound when absent
//
//   skeg::client::Pipeline p(client->get());            // send N, then read N
//   p.Set("a", "1"); p.Get("a"); p.Del("a");
//   std::vector<Result<ReplyBody>> replies = p.Execute();
//
// Errors: every call returns Status or Result<T>; nothing throws. An Err reply maps to a
// Status with StatusFromError() (NotFound -> kNotFound, InvalidRequest -> kInvalidArgument,
// Unauthorized -> kUnauthenticated, QuotaExceeded -> kResourceExhausted, ReadOnly ->
// kPermissionDenied, Internal -> kInternal). An I/O failure (kIOError) or a reply that breaks
// the protocol (kCorruption) marks the client broken(): the socket is closed and every later
// call fails with kIOError; make a new client.
//
// NO_REPLY: the server answers such a write only when it fails, so the client returns at once
// and collects late Err frames while reading later replies; TakeNoReplyErrors() hands them
// over. Inside one Pipeline::Execute() an error for a NO_REPLY entry lands in that entry.
//
// Ownership: a Client owns its socket and buffers. Pipeline borrows a Client and copies each
// request into its send buffer when it is added, so argument views need not outlive Add().
// Thread-safety: none. One Client per thread (or external locking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/native/native.h"

namespace skeg::client {

namespace native = ::skeg::protocol::native;
using native::IndexBackend;
using native::IndexInfo;
using native::KeyValue;
using native::ReplyBody;
using native::SearchHit;
using native::SetCondition;
using native::ShardInfo;
using native::VectorKind;
using Stats = native::StatsReply;

struct ClientOptions {
  // Bound on connect() and on each blocking send()/recv(); 0 = wait forever.
  int timeout_ms = 10000;
  bool tcp_nodelay = true;
  // InvalidArgument when timeout_ms < 0.
  [[nodiscard]] Status Validate() const;
};

// Per-write flags.
struct WriteOptions {
  bool wait_durable = false;  // WAIT_DURABLE: ack only once durable
  bool no_reply = false;      // NO_REPLY (SET, MSET, VSET, DEL, VDEL): no frame on success
  bool compress = false;      // COMPRESSED_LZ4 payload
  uint32_t flags() const;
};

class Pipeline;

class Client {
 public:
  // Resolves `host` (name or address, IPv4/IPv6) and connects. Errors: kInvalidArgument for
  // bad options, kIOError when resolution or every connect attempt fails.
  static Result<std::unique_ptr<Client>> Connect(std::string_view host, uint16_t port,
                                                 const ClientOptions& options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // --- KV ---
  [[nodiscard]] Status Ping();
  Result<std::string> Get(std::string_view key);  // kNotFound when absent
  [[nodiscard]] Status Set(std::string_view key, std::string_view value,
                           const WriteOptions& options = {});
  // SET_NX / SET_XX. True when written. With no_reply: false (unknown).
  Result<bool> SetIf(std::string_view key, std::string_view value, SetCondition condition,
                     const WriteOptions& options = {});
  // True if the key existed. With no_reply: false (unknown).
  Result<bool> Del(std::string_view key, const WriteOptions& options = {});
  Result<std::vector<std::optional<std::string>>> MGet(std::span<const std::string_view> keys);
  [[nodiscard]] Status MSet(std::span<const KeyValue> pairs, const WriteOptions& options = {});
  Result<bool> Exists(std::string_view key);
  Result<uint32_t> MExists(std::span<const std::string_view> keys);

  // --- vectors ---
  [[nodiscard]] Status VIndexCreate(std::string_view name, uint32_t dim, VectorKind kind,
                                    IndexBackend backend);
  [[nodiscard]] Status VIndexDrop(std::string_view name);
  [[nodiscard]] Status VSet(std::string_view name, uint64_t id, std::span<const float> vec,
                            const WriteOptions& options = {});
  Result<std::vector<float>> VGet(std::string_view name, uint64_t id);  // kNotFound if absent
  Result<bool> VDel(std::string_view name, uint64_t id, const WriteOptions& options = {});
  // Best first. l_search 0 = the index default.
  Result<std::vector<SearchHit>> VSearch(std::string_view name, uint32_t k,
                                         std::span<const float> query, uint32_t l_search = 0);
  Result<std::vector<IndexInfo>> VIndexList();

  // --- admin ---
  Result<Stats> GetStats();
  [[nodiscard]] Status Flush();  // sync barrier
  Result<std::vector<ShardInfo>> Shards();
  [[nodiscard]] Status Auth(std::string_view user, std::string_view password);
  Result<std::string> WhoAmI();

  // One request, one reply, untyped. `flags` as in RequestFrame (WAIT_DURABLE, NO_REPLY,
  // COMPRESSED_LZ4). A suppressed reply yields EmptyReply.
  Result<ReplyBody> Call(const native::RequestBody& body, uint32_t flags = 0);

  // Errors that arrived for earlier NO_REPLY requests; clears the list.
  std::vector<Status> TakeNoReplyErrors();

  bool broken() const { return fd_ < 0; }

 private:
  friend class Pipeline;
  Client(int fd, const ClientOptions& options);

  struct Pending {
    uint64_t req_id;
    native::ReplyShape shape;
    bool no_reply;
  };
  // Sends `wire` (complete frames) and reads one reply per entry of `pending` (no_reply
  // entries resolve without one). Results are in the order of `pending`.
  std::vector<Result<ReplyBody>> Roundtrip(std::string_view wire,
                                           const std::vector<Pending>& pending);
  Status SendAll(std::string_view bytes);
  Result<native::Response> ReadResponse(native::ReplyShape shape);
  Status Fail(Status status);  // closes the socket, returns `status`
  uint64_t NextId() { return next_req_id_++; }

  int fd_;
  ClientOptions options_;
  uint64_t next_req_id_ = 1;
  std::string in_;  // received, not yet parsed
  std::string scratch_;
  native::FrameParser parser_;
  std::deque<uint64_t> unacked_no_reply_;  // sent NO_REPLY ids not yet known to succeed
  std::vector<Status> no_reply_errors_;
};

// Queues requests and sends them in one write; Execute() then reads all replies.
// REQUIRES: the Client outlives the Pipeline.
class Pipeline {
 public:
  explicit Pipeline(Client* client) : client_(client) {}

  // Queues `body` (encoded now). Returns its index in Execute()'s result. An encoding error
  // (e.g. a key over 65 535 bytes) becomes that entry's result.
  size_t Add(const native::RequestBody& body, uint32_t flags = 0);

  size_t Ping() { return Add(native::PingRequest{}); }
  size_t Get(std::string_view key) { return Add(native::GetRequest{key}); }
  size_t Set(std::string_view key, std::string_view value, const WriteOptions& options = {}) {
    return Add(native::SetRequest{key, value}, options.flags());
  }
  size_t Del(std::string_view key, const WriteOptions& options = {}) {
    return Add(native::DelRequest{key}, options.flags());
  }
  size_t Exists(std::string_view key) { return Add(native::ExistsRequest{key}); }
  size_t VSet(std::string_view name, uint64_t id, std::span<const float> vec,
              const WriteOptions& options = {}) {
    return Add(native::VSetRequest{name, id, native::FloatView::Of(vec)}, options.flags());
  }
  size_t VSearch(std::string_view name, uint32_t k, std::span<const float> query,
                 uint32_t l_search = 0) {
    return Add(native::VSearchRequest{name, k, native::FloatView::Of(query), l_search});
  }

  size_t size() const { return entries_.size(); }

  // Sends everything queued, reads every reply and empties the pipeline. Entry i is the
  // reply to the i-th Add(): the Ok body, or the Err reply as a Status. After an I/O failure
  // the remaining entries carry kIOError.
  std::vector<Result<ReplyBody>> Execute();

 private:
  struct Entry {
    std::optional<Client::Pending> pending;  // nullopt: encoding failed
    Status encode_error;
  };
  Client* client_;
  std::string wire_;
  std::vector<Entry> entries_;
};

}  // namespace skeg::client
