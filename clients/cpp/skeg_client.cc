#include "skeg_client.h"

#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace skeg::client {
namespace {

constexpr size_t kReadChunkBytes = 64 << 10;

void SetTimeouts(int fd, int timeout_ms) {
  if (timeout_ms <= 0) return;
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  // Linux applies SO_SNDTIMEO to connect() as well.
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Extracts alternative T from a reply whose shape the decoder already guaranteed.
template <typename T>
Result<T> Take(Result<ReplyBody> reply) {
  if (!reply.has_value()) return std::move(reply).error();
  if (auto* v = std::get_if<T>(&*reply)) return std::move(*v);
  return Status::Internal("native client: unexpected reply shape");
}

Status ToStatus(Result<ReplyBody> reply) { return reply.status(); }

}  // namespace

Status ClientOptions::Validate() const {
  if (timeout_ms < 0) return Status::InvalidArgument("timeout_ms must be >= 0");
  return Status::Ok();
}

uint32_t WriteOptions::flags() const {
  return (wait_durable ? native::kFlagWaitDurable : 0) | (no_reply ? native::kFlagNoReply : 0) |
         (compress ? native::kFlagCompressedLz4 : 0);
}

Result<std::unique_ptr<Client>> Client::Connect(std::string_view host, uint16_t port,
                                                const ClientOptions& options) {
  SKEG_RETURN_IF_ERROR(options.Validate());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  const std::string host_str(host);
  const std::string port_str = std::to_string(port);
  const int gai = getaddrinfo(host_str.c_str(), port_str.c_str(), &hints, &addrs);
  if (gai != 0) {
    return Status::IOError("resolve " + host_str + ": " + std::string(gai_strerror(gai)));
  }
  Status last = Status::IOError("connect " + host_str + ": no address");
  int fd = -1;
  for (addrinfo* a = addrs; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno(errno, "socket");
      continue;
    }
    SetTimeouts(fd, options.timeout_ms);
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      last = Status::FromErrno(errno, "connect " + host_str + ":" + port_str);
      if (last.code() != StatusCode::kIOError) last = Status::IOError(last.message());
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(addrs);
  if (fd < 0) return last;
  if (options.tcp_nodelay) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return std::unique_ptr<Client>(new Client(fd, options));
}

Client::Client(int fd, const ClientOptions& options) : fd_(fd), options_(options) {}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

Status Client::Fail(Status status) {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  return status;
}

// Sends without blocking on a full socket: while the server cannot take more bytes, replies
// it already produced are read into in_. Otherwise a big pipeline deadlocks (the client blocks
// in send() while the server blocks sending replies nobody reads).
Status Client::SendAll(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Fail(Status::IOError(Status::FromErrno(errno, "native send").message()));
    }
    pollfd p{fd_, POLLIN | POLLOUT, 0};
    const int ready = poll(&p, 1, options_.timeout_ms > 0 ? options_.timeout_ms : -1);
    if (ready == 0) return Fail(Status::IOError("native send: timed out"));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Fail(Status::IOError(Status::FromErrno(errno, "native poll").message()));
    }
    if ((p.revents & POLLIN) != 0) {
      const size_t have = in_.size();
      in_.resize(have + kReadChunkBytes);
      const ssize_t r = recv(fd_, in_.data() + have, kReadChunkBytes, MSG_DONTWAIT);
      in_.resize(have + (r > 0 ? static_cast<size_t>(r) : 0));
      if (r == 0) return Fail(Status::IOError("native send: connection closed by the server"));
    }
  }
  return Status::Ok();
}

Result<native::Response> Client::ReadResponse(native::ReplyShape shape) {
  while (true) {
    native::Frame frame;
    const native::ParseResult r = parser_.Parse(in_, &frame);
    if (r.status == native::ParseStatus::kFrame) {
      auto response = native::DecodeResponse(frame, shape, &scratch_);
      in_.erase(0, r.consumed);
      if (!response.has_value()) return Fail(std::move(response).error());
      return response;
    }
    if (r.status == native::ParseStatus::kError) return Fail(parser_.error());
    const size_t have = in_.size();
    in_.resize(std::max(parser_.RequiredInputBytes(), have + kReadChunkBytes));
    const ssize_t n = recv(fd_, in_.data() + have, in_.size() - have, 0);
    if (n <= 0) {
      in_.resize(have);
      if (n < 0 && errno == EINTR) continue;
      return Fail(n == 0 ? Status::IOError("native recv: connection closed by the server")
                         : Status::IOError(Status::FromErrno(errno, "native recv").message()));
    }
    in_.resize(have + static_cast<size_t>(n));
  }
}

std::vector<Result<ReplyBody>> Client::Roundtrip(std::string_view wire,
                                                 const std::vector<Pending>& pending) {
  std::vector<Result<ReplyBody>> results;
  results.reserve(pending.size());
  auto fail_rest = [&](const Status& s) {
    while (results.size() < pending.size()) results.emplace_back(s);
    return results;
  };
  if (broken()) return fail_rest(Status::IOError("native client: connection is broken"));
  if (Status s = SendAll(wire); !s.ok()) return fail_rest(s);

  // Reads frames until the one answering `req_id` arrives. Err frames for older NO_REPLY
  // requests are collected on the way (they come first: replies are in request order).
  // Returns the frame, or nullopt in *found for a NO_REPLY request that turned out to have
  // succeeded (a later id answered first).
  for (size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    if (p.no_reply) {
      unacked_no_reply_.push_back(p.req_id);
      results.emplace_back(ReplyBody{native::EmptyReply{}});
      continue;
    }
    while (true) {
      auto response = ReadResponse(p.shape);
      if (!response.has_value()) return fail_rest(response.error());
      const uint64_t id = response->req_id;
      if (id == p.req_id) {
        // Every NO_REPLY request sent before this one succeeded.
        while (!unacked_no_reply_.empty() && unacked_no_reply_.front() < id) {
          unacked_no_reply_.pop_front();
        }
        if (response->error) {
          results.emplace_back(native::StatusFromError(*response->error));
        } else {
          results.emplace_back(std::move(response->body));
        }
        break;
      }
      // Not ours: it must be the Err of an earlier NO_REPLY request.
      while (!unacked_no_reply_.empty() && unacked_no_reply_.front() < id) {
        unacked_no_reply_.pop_front();
      }
      if (unacked_no_reply_.empty() || unacked_no_reply_.front() != id || !response->error) {
        return fail_rest(Fail(Status::Corruption("native client: reply for an unexpected req_id " +
                                                 std::to_string(id))));
      }
      unacked_no_reply_.pop_front();
      Status error = native::StatusFromError(*response->error);
      // An entry of this very batch gets its error in place.
      bool placed = false;
      for (size_t j = 0; j < i; ++j) {
        if (pending[j].req_id == id) {
          results[j] = error;
          placed = true;
        }
      }
      if (!placed) no_reply_errors_.push_back(std::move(error));
    }
  }
  return results;
}

Result<ReplyBody> Client::Call(const native::RequestBody& body, uint32_t flags) {
  Pipeline p(this);
  p.Add(body, flags);
  return std::move(p.Execute().front());
}

std::vector<Status> Client::TakeNoReplyErrors() { return std::exchange(no_reply_errors_, {}); }

Status Client::Ping() { return ToStatus(Call(native::PingRequest{})); }

Result<std::string> Client::Get(std::string_view key) {
  auto v = Take<native::ValueReply>(Call(native::GetRequest{key}));
  if (!v.has_value()) return std::move(v).error();
  return std::move(v->value);
}

Status Client::Set(std::string_view key, std::string_view value, const WriteOptions& options) {
  return ToStatus(Call(native::SetRequest{key, value}, options.flags()));
}

Result<bool> Client::SetIf(std::string_view key, std::string_view value, SetCondition condition,
                           const WriteOptions& options) {
  auto reply = Call(native::SetRequest{key, value, condition}, options.flags());
  if (reply.has_value() && std::holds_alternative<native::EmptyReply>(*reply)) return false;
  auto b = Take<native::BoolReply>(std::move(reply));
  if (!b.has_value()) return std::move(b).error();
  return b->value;
}

namespace {
Result<bool> TakeBool(Result<ReplyBody> reply) {
  if (reply.has_value() && std::holds_alternative<native::EmptyReply>(*reply)) return false;
  auto b = Take<native::BoolReply>(std::move(reply));
  if (!b.has_value()) return std::move(b).error();
  return b->value;
}
}  // namespace

Result<bool> Client::Del(std::string_view key, const WriteOptions& options) {
  return TakeBool(Call(native::DelRequest{key}, options.flags()));
}

Result<std::vector<std::optional<std::string>>> Client::MGet(
    std::span<const std::string_view> keys) {
  auto m = Take<native::MGetReply>(
      Call(native::MGetRequest{std::vector<std::string_view>(keys.begin(), keys.end())}));
  if (!m.has_value()) return std::move(m).error();
  if (m->values.size() != keys.size()) {
    return Fail(Status::Corruption("native MGET: reply count differs from the key count"));
  }
  return std::move(m->values);
}

Status Client::MSet(std::span<const KeyValue> pairs, const WriteOptions& options) {
  return ToStatus(Call(native::MSetRequest{std::vector<KeyValue>(pairs.begin(), pairs.end())},
                       options.flags()));
}

Result<bool> Client::Exists(std::string_view key) {
  return TakeBool(Call(native::ExistsRequest{key}));
}

Result<uint32_t> Client::MExists(std::span<const std::string_view> keys) {
  auto c = Take<native::CountReply>(
      Call(native::MExistsRequest{std::vector<std::string_view>(keys.begin(), keys.end())}));
  if (!c.has_value()) return std::move(c).error();
  return c->count;
}

Status Client::VIndexCreate(std::string_view name, uint32_t dim, VectorKind kind,
                            IndexBackend backend) {
  return ToStatus(Call(native::VIndexCreateRequest{name, dim, kind, backend}));
}

Status Client::VIndexDrop(std::string_view name) {
  return ToStatus(Call(native::VIndexDropRequest{name}));
}

Status Client::VSet(std::string_view name, uint64_t id, std::span<const float> vec,
                    const WriteOptions& options) {
  return ToStatus(Call(native::VSetRequest{name, id, native::FloatView::Of(vec)}, options.flags()));
}

Result<std::vector<float>> Client::VGet(std::string_view name, uint64_t id) {
  auto v = Take<native::VectorReply>(Call(native::VGetRequest{name, id}));
  if (!v.has_value()) return std::move(v).error();
  return std::move(v->vec);
}

Result<bool> Client::VDel(std::string_view name, uint64_t id, const WriteOptions& options) {
  return TakeBool(Call(native::VDelRequest{name, id}, options.flags()));
}

Result<std::vector<SearchHit>> Client::VSearch(std::string_view name, uint32_t k,
                                               std::span<const float> query, uint32_t l_search) {
  auto s = Take<native::SearchReply>(
      Call(native::VSearchRequest{name, k, native::FloatView::Of(query), l_search}));
  if (!s.has_value()) return std::move(s).error();
  return std::move(s->hits);
}

Result<std::vector<IndexInfo>> Client::VIndexList() {
  auto l = Take<native::IndexListReply>(Call(native::VIndexListRequest{}));
  if (!l.has_value()) return std::move(l).error();
  return std::move(l->indexes);
}

Result<Stats> Client::GetStats() { return Take<native::StatsReply>(Call(native::StatsRequest{})); }

Status Client::Flush() { return ToStatus(Call(native::FlushRequest{})); }

Result<std::vector<ShardInfo>> Client::Shards() {
  auto s = Take<native::ShardsReply>(Call(native::ShardsRequest{}));
  if (!s.has_value()) return std::move(s).error();
  return std::move(s->shards);
}

Status Client::Auth(std::string_view user, std::string_view password) {
  return ToStatus(Call(native::AuthRequest{user, password}));
}

Result<std::string> Client::WhoAmI() {
  auto t = Take<native::TextReply>(Call(native::WhoAmIRequest{}));
  if (!t.has_value()) return std::move(t).error();
  return std::move(t->text);
}

size_t Pipeline::Add(const native::RequestBody& body, uint32_t flags) {
  Entry entry;
  const uint64_t id = client_->NextId();
  native::RequestFrame frame{id, flags, body};
  Status s = native::EncodeRequest(frame, &wire_);
  if (s.ok()) {
    const native::Opcode op = native::OpcodeOf(body);
    uint32_t shape_flags = flags;
    if (const auto* set = std::get_if<native::SetRequest>(&body)) {
      if (set->condition != SetCondition::kAlways) shape_flags |= native::kFlagSetNx;
    }
    entry.pending = Client::Pending{id, native::ReplyShapeFor(op, shape_flags),
                                    native::SuppressesReply(op, flags)};
  } else {
    entry.encode_error = std::move(s);
  }
  entries_.push_back(std::move(entry));
  return entries_.size() - 1;
}

std::vector<Result<ReplyBody>> Pipeline::Execute() {
  std::vector<Client::Pending> pending;
  for (const Entry& e : entries_) {
    if (e.pending) pending.push_back(*e.pending);
  }
  std::vector<Result<ReplyBody>> sent = client_->Roundtrip(wire_, pending);
  std::vector<Result<ReplyBody>> results;
  results.reserve(entries_.size());
  size_t next = 0;
  for (Entry& e : entries_) {
    if (e.pending) {
      results.push_back(std::move(sent[next++]));
    } else {
      results.emplace_back(std::move(e.encode_error));
    }
  }
  entries_.clear();
  wire_.clear();
  return results;
}

}  // namespace skeg::client
