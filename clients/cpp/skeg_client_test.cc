// Exercises skeg::client against an in-test fake server that speaks the native protocol
// through the same codec (the real server's black-box tests come with its native handlers).
#include "skeg_client.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace skeg::client {
namespace {

// One-thread fake server on 127.0.0.1:<ephemeral>. Handles one connection at a time with an
// in-memory map and a single vector index; honours NO_REPLY; answers bad payloads with Err
// InvalidRequest and closes on a broken header, as the spec demands.
class FakeServer {
 public:
  FakeServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  // Raw bytes the next connection gets instead of real replies (for broken-server tests).
  void set_garbage_reply(std::string bytes) { garbage_ = std::move(bytes); }
  int frames_seen() const { return frames_seen_; }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      Serve(fd);
      close(fd);
    }
  }

  void Serve(int fd) {
    namespace native = protocol::native;
    native::FrameParser parser;
    std::string in, out, scratch;
    char buf[65536];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      while (true) {
        native::Frame frame;
        const native::ParseResult r = parser.Parse(in, &frame);
        if (r.status == native::ParseStatus::kError) return;  // fatal: close
        if (r.status == native::ParseStatus::kNeedMore) break;
        ++frames_seen_;
        if (!garbage_.empty()) {
          out += garbage_;
        } else {
          Handle(frame, &scratch, &out);
        }
        in.erase(0, r.consumed);
      }
      if (!out.empty()) {
        EXPECT_EQ(send(fd, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
        out.clear();
      }
    }
  }

  void Handle(const protocol::native::Frame& frame, std::string* scratch, std::string* out) {
    namespace native = protocol::native;
    using protocol::NativeErrorCode;
    const uint64_t id = frame.header.req_id;
    auto req = native::DecodeRequest(frame, scratch);
    if (!req) {
      native::EncodeError(id, NativeErrorCode::kInvalidRequest, req.error().message(), out);
      return;
    }
    auto ok = [&](native::ReplyBody body) {
      if (native::SuppressesReply(frame.header.op, frame.header.flags)) return;
      EXPECT_TRUE(native::EncodeOk(id, body, out).ok());
    };
    auto err = [&](NativeErrorCode code, std::string_view msg) {
      native::EncodeError(id, code, msg, out);
    };
    std::visit(
        [&](const auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, native::PingRequest>) {
            ok(native::EmptyReply{});
          } else if constexpr (std::is_same_v<T, native::GetRequest>) {
            auto it = kv_.find(std::string(r.key));
            if (it == kv_.end()) return err(NativeErrorCode::kNotFound, "no such key");
            ok(native::ValueReply{it->second});
          } else if constexpr (std::is_same_v<T, native::SetRequest>) {
            if (r.key == "readonly") return err(NativeErrorCode::kReadOnly, "serve mode");
            const bool exists = kv_.contains(std::string(r.key));
            const bool write = r.condition == native::SetCondition::kAlways ||
                               (r.condition == native::SetCondition::kIfAbsent) != exists;
            if (write) kv_[std::string(r.key)] = std::string(r.value);
            if (r.condition == native::SetCondition::kAlways) {
              ok(native::EmptyReply{});
            } else {
              ok(native::BoolReply{write});
            }
          } else if constexpr (std::is_same_v<T, native::DelRequest>) {
            ok(native::BoolReply{kv_.erase(std::string(r.key)) == 1});
          } else if constexpr (std::is_same_v<T, native::ExistsRequest>) {
            ok(native::BoolReply{kv_.contains(std::string(r.key))});
          } else if constexpr (std::is_same_v<T, native::MGetRequest>) {
            native::MGetReply m;
            for (auto k : r.keys) {
              auto it = kv_.find(std::string(k));
              m.values.push_back(it == kv_.end() ? std::nullopt
                                                 : std::optional<std::string>(it->second));
            }
            ok(m);
          } else if constexpr (std::is_same_v<T, native::MSetRequest>) {
            for (const auto& kv : r.pairs) kv_[std::string(kv.key)] = std::string(kv.value);
            ok(native::EmptyReply{});
          } else if constexpr (std::is_same_v<T, native::MExistsRequest>) {
            uint32_t n = 0;
            for (auto k : r.keys) n += kv_.contains(std::string(k)) ? 1 : 0;
            ok(native::CountReply{n});
          } else if constexpr (std::is_same_v<T, native::VIndexCreateRequest>) {
            if (index_dim_ != 0) return err(NativeErrorCode::kInvalidRequest, "exists");
            index_name_ = std::string(r.name);
            index_dim_ = r.dim;
            ok(native::EmptyReply{});
          } else if constexpr (std::is_same_v<T, native::VSetRequest>) {
            if (r.name != index_name_) return err(NativeErrorCode::kNotFound, "no such index");
            if (r.vec.dim != index_dim_) return err(NativeErrorCode::kInvalidRequest, "dim");
            vectors_[r.id] = r.vec.ToVector();
            ok(native::EmptyReply{});
          } else if constexpr (std::is_same_v<T, native::VGetRequest>) {
            auto it = vectors_.find(r.id);
            if (it == vectors_.end()) return err(NativeErrorCode::kNotFound, "no such id");
            ok(native::VectorReply{it->second});
          } else if constexpr (std::is_same_v<T, native::VDelRequest>) {
            ok(native::BoolReply{vectors_.erase(r.id) == 1});
          } else if constexpr (std::is_same_v<T, native::VSearchRequest>) {
            native::SearchReply s;  // dot product, best first
            for (const auto& [vid, v] : vectors_) {
              float dot = 0;
              for (size_t i = 0; i < v.size() && i < r.vec.dim; ++i) dot += v[i] * r.vec[i];
              s.hits.push_back({vid, dot});
            }
            std::sort(s.hits.begin(), s.hits.end(),
                      [](const auto& a, const auto& b) { return a.score > b.score; });
            if (s.hits.size() > r.k) s.hits.resize(r.k);
            ok(s);
          } else if constexpr (std::is_same_v<T, native::VIndexListRequest>) {
            native::IndexListReply l;
            if (index_dim_ != 0) {
              l.indexes.push_back({index_name_, index_dim_, native::VectorKind::kF32,
                                   native::IndexBackend::kFlat, vectors_.size()});
            }
            ok(l);
          } else if constexpr (std::is_same_v<T, native::StatsRequest>) {
            ok(native::StatsReply{1, 2, kv_.size(), 4});
          } else if constexpr (std::is_same_v<T, native::ShardsRequest>) {
            ok(native::ShardsReply{{{0, 1, 0, kv_.size(), 4}}});
          } else if constexpr (std::is_same_v<T, native::AuthRequest>) {
            if (r.user != "al" || r.password != "pw1") {
              return err(NativeErrorCode::kUnauthorized, "bad credentials");
            }
            user_ = "al";
            ok(native::EmptyReply{});
          } else if constexpr (std::is_same_v<T, native::WhoAmIRequest>) {
            ok(native::TextReply{user_});
          } else {
            ok(native::EmptyReply{});  // FLUSH, VINDEX_DROP
          }
        },
        req->body);
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> frames_seen_{0};
  std::string garbage_;
  std::map<std::string, std::string> kv_;
  std::map<uint64_t, std::vector<float>> vectors_;
  std::string index_name_;
  uint32_t index_dim_ = 0;
  std::string user_ = "default";
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Client::Connect("127.0.0.1", server_.port());
    ASSERT_TRUE(c.has_value()) << c.status().ToString();
    client_ = std::move(*c);
  }
  FakeServer server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, PingAndKeyValueOps) {
  ASSERT_TRUE(client_->Ping().ok());
  EXPECT_TRUE(client_->Get("k").status().IsNotFound());
  ASSERT_TRUE(client_->Set("k", "v1").ok());
  EXPECT_EQ(*client_->Get("k"), "v1");
  EXPECT_EQ(*client_->SetIf("k", "v2", SetCondition::kIfAbsent), false);
  EXPECT_EQ(*client_->SetIf("k", "v3", SetCondition::kIfPresent), true);
  EXPECT_EQ(*client_->Get("k"), "v3");
  EXPECT_EQ(*client_->Exists("k"), true);
  const std::string big(100000, 'x');
  const KeyValue pairs[] = {{"a", "1"}, {"b", big}};
  ASSERT_TRUE(client_->MSet(pairs, {.compress = true}).ok());
  const std::string_view keys[] = {"a", "nope", "b"};
  auto values = client_->MGet(keys);
  ASSERT_TRUE(values.has_value());
  EXPECT_EQ((*values)[0], "1");
  EXPECT_FALSE((*values)[1].has_value());
  EXPECT_EQ((*values)[2]->size(), 100000u);
  EXPECT_EQ(*client_->MExists(keys), 2u);
  EXPECT_EQ(*client_->Del("a"), true);
  EXPECT_EQ(*client_->Del("a"), false);
  EXPECT_EQ(client_->GetStats()->n_keys, 2u);
  EXPECT_EQ(client_->Shards()->size(), 1u);
  EXPECT_TRUE(client_->Flush().ok());
}

TEST_F(ClientTest, VectorOps) {
  ASSERT_TRUE(client_->VIndexCreate("idx", 2, VectorKind::kF32, IndexBackend::kFlat).ok());
  EXPECT_TRUE(
      client_->VIndexCreate("idx", 2, VectorKind::kF32, IndexBackend::kFlat).IsInvalidArgument());
  const float a[] = {1, 0}, b[] = {0, 1}, q[] = {0.9f, 0.1f};
  ASSERT_TRUE(client_->VSet("idx", 1, a).ok());
  ASSERT_TRUE(client_->VSet("idx", 2, b).ok());
  EXPECT_TRUE(client_->VSet("nope", 3, a).IsNotFound());
  EXPECT_EQ(*client_->VGet("idx", 2), (std::vector<float>{0, 1}));
  EXPECT_TRUE(client_->VGet("idx", 9).status().IsNotFound());
  auto hits = client_->VSearch("idx", 2, q, 32);
  ASSERT_TRUE(hits.has_value());
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].id, 1u);
  EXPECT_FLOAT_EQ((*hits)[0].score, 0.9f);
  auto list = client_->VIndexList();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "idx");
  EXPECT_EQ((*list)[0].n_vectors, 2u);
  EXPECT_EQ(*client_->VDel("idx", 1), true);
  EXPECT_TRUE(client_->VIndexDrop("idx").ok());
}

TEST_F(ClientTest, AuthAndErrorsMapToStatusCodes) {
  EXPECT_EQ(client_->Auth("al", "wrong").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(*client_->WhoAmI(), "default");
  ASSERT_TRUE(client_->Auth("al", "pw1").ok());
  EXPECT_EQ(*client_->WhoAmI(), "al");
  EXPECT_EQ(client_->Set("readonly", "x").code(), StatusCode::kPermissionDenied);
  // Encoding errors never reach the wire, and the connection stays usable.
  EXPECT_TRUE(client_->Get(std::string(70000, 'k')).status().IsInvalidArgument());
  EXPECT_TRUE(client_->Ping().ok());
}

TEST_F(ClientTest, PipelineSendsNThenReadsN) {
  Pipeline p(client_.get());
  for (int i = 0; i < 100; ++i) p.Set("k" + std::to_string(i), std::to_string(i));
  const size_t get = p.Get("k42");
  const size_t missing = p.Get("zzz");
  const size_t too_long = p.Get(std::string(70000, 'x'));
  const size_t ping = p.Ping();
  auto replies = p.Execute();
  ASSERT_EQ(replies.size(), 104u);
  EXPECT_EQ(std::get<protocol::native::ValueReply>(*replies[get]).value, "42");
  EXPECT_TRUE(replies[missing].status().IsNotFound());
  EXPECT_TRUE(replies[too_long].status().IsInvalidArgument());
  EXPECT_TRUE(replies[ping].has_value());
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(*client_->Get("k99"), "99");
}

// 8 MiB of requests in one pipeline: more than both socket buffers hold, so the client must
// read replies while it is still sending.
TEST_F(ClientTest, HugePipelineDoesNotDeadlock) {
  Pipeline p(client_.get());
  const std::string value(1000, 'v');
  for (int i = 0; i < 8000; ++i) p.Set("k" + std::to_string(i % 10), value);
  for (int i = 0; i < 8000; ++i) p.Get("k" + std::to_string(i % 10));
  auto replies = p.Execute();
  ASSERT_EQ(replies.size(), 16000u);
  for (const auto& r : replies) ASSERT_TRUE(r.has_value()) << r.status().ToString();
  EXPECT_EQ(std::get<protocol::native::ValueReply>(*replies.back()).value, value);
}

TEST_F(ClientTest, NoReplyWritesAndLateErrors) {
  ASSERT_TRUE(client_->Set("a", "1", {.no_reply = true}).ok());
  ASSERT_TRUE(client_->Set("readonly", "x", {.no_reply = true}).ok());  // fails server-side
  ASSERT_TRUE(client_->Set("b", "2", {.wait_durable = true, .no_reply = true}).ok());
  // The next real reply flushes the late error out.
  EXPECT_EQ(*client_->Get("a"), "1");
  auto errors = client_->TakeNoReplyErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(client_->TakeNoReplyErrors().empty());

  // Inside a pipeline the error lands on its own entry.
  Pipeline p(client_.get());
  const size_t bad = p.Set("readonly", "y", {.no_reply = true});
  const size_t good = p.Set("c", "3", {.no_reply = true});
  p.Ping();
  auto replies = p.Execute();
  EXPECT_EQ(replies[bad].status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(replies[good].has_value());
  EXPECT_TRUE(client_->TakeNoReplyErrors().empty());
}

TEST(ClientStandaloneTest, ConnectFailureIsIOError) {
  // Bind then close a port to get one that is (almost certainly) closed.
  uint16_t port;
  {
    FakeServer s;
    port = s.port();
  }
  auto c = Client::Connect("127.0.0.1", port);
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(c.error().IsIOError()) << c.error().ToString();
  EXPECT_FALSE(Client::Connect("127.0.0.1", 1, {.timeout_ms = -1}).has_value());
}

TEST(ClientStandaloneTest, BrokenServerRepliesBreakTheClient) {
  FakeServer server;
  server.set_garbage_reply("*1\r\n$4\r\nPING\r\n");  // RESP, not native
  auto c = Client::Connect("127.0.0.1", server.port());
  ASSERT_TRUE(c.has_value());
  Status s = (*c)->Ping();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE((*c)->broken());
  EXPECT_TRUE((*c)->Ping().IsIOError());
}

}  // namespace
}  // namespace skeg::client
