// native_vs_resp: GET and SET throughput of one skeg server over its native protocol (through
// clients/cpp) and over RESP (a minimal pipelined RESP client below: requests encoded with
// protocol/resp AppendRequest, replies skipped by a tiny parser), same server, same run, same
// client threads, keys, values and pipeline depths. Prints a Markdown table with the ratio
// native/RESP per row. Both sides use an equally minimal client by default (encode with the
// codec, skip replies by their length) so the client is not what is measured; --cpp-client
// drives the native side through clients/cpp's Pipeline instead.
//
//   build/release/bin/skeg --data-dir /var/tmp/nvr --addr 127.0.0.1:7379
//       --resp-addr 127.0.0.1:6379 --metrics-port 0 &      (one line)
//   build/release/bench/native_vs_resp --threads 8 --seconds 3 --pipelines 1,16
//
// Each (op, depth, protocol) cell runs for --seconds with --threads connections; every thread
// sends `depth` requests, then reads `depth` replies, and repeats. Keys are drawn uniformly from
// --keys keys (preloaded), values are --value-bytes bytes.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common/coding.h"
#include "protocol/native/native.h"
#include "protocol/resp/resp_writer.h"
#include "skeg_client.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string host = "127.0.0.1";
  uint16_t native_port = 7379;
  uint16_t resp_port = 6379;
  int threads = 8;
  double seconds = 3;
  std::vector<int> pipelines = {1, 16};
  int keys = 10000;
  int value_bytes = 64;
  // Drive the native side with clients/cpp's Pipeline instead of the minimal client.
  bool cpp_client = false;
};

std::string KeyName(int i) { return "bench:" + std::to_string(i); }

// ---- minimal RESP client ----

class RespConn {
 public:
  bool Connect(const std::string& host, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return false;
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return true;
  }
  virtual ~RespConn() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool SendAll(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads and skips `count` replies (simple, error, integer, bulk). False on I/O failure or an
  // error reply.
  bool ReadReplies(int count) {
    while (count > 0) {
      size_t used = 0;
      const int r = ParseOne(&used);
      if (r < 0) return false;
      if (r == 0) {
        if (!Receive(&in_)) return false;
        continue;
      }
      in_.erase(0, used);
      --count;
    }
    return true;
  }

 protected:
  // Appends what one recv() returns to *in. False on EOF or error.
  bool Receive(std::string* in) {
    char chunk[64 * 1024];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    in->append(chunk, static_cast<size_t>(n));
    return true;
  }

 private:
  // 1: one reply of `*used` bytes at the front of in_; 0: incomplete; -1: error reply/garbage.
  int ParseOne(size_t* used) {
    const size_t eol = in_.find("\r\n");
    if (eol == std::string::npos) return 0;
    switch (in_[0]) {
      case '+':
      case ':':
        *used = eol + 2;
        return 1;
      case '$': {
        const long len = std::strtol(in_.c_str() + 1, nullptr, 10);
        if (len < 0) {
          *used = eol + 2;
          return 1;
        }
        const size_t total = eol + 2 + static_cast<size_t>(len) + 2;
        if (in_.size() < total) return 0;
        *used = total;
        return 1;
      }
      default:
        std::fprintf(stderr, "RESP error: %s\n", in_.substr(0, eol).c_str());
        return -1;
    }
  }

  int fd_ = -1;
  std::string in_;
};

// ---- minimal native client (the same shape as RespConn: encode with the codec, skip replies) ----

class NativeConn : public RespConn {
 public:
  // Reads and skips `count` response frames. False on I/O failure or an Err other than
  // NotFound (a GET miss).
  bool ReadFrames(int count) {
    while (count > 0) {
      if (frames_.size() >= skeg::protocol::native::kHeaderBytes) {
        const uint32_t len = skeg::DecodeFixed32(frames_.data() + 16);
        const size_t total = skeg::protocol::native::kHeaderBytes + len;
        if (frames_.size() >= total) {
          const auto op = static_cast<uint8_t>(frames_[3]);
          if (op != 0xC0 && (len == 0 || frames_[24] != 0x01)) return false;
          frames_.erase(0, total);
          --count;
          continue;
        }
      }
      if (!Receive(&frames_)) return false;
    }
    return true;
  }

 private:
  std::string frames_;
};

// ---- the runs ----

enum class Op { kGet, kSet };
enum class Proto { kNative, kResp };

// Runs one cell; returns ops/s (0 on failure).
double RunCell(const Config& cfg, Op op, Proto proto, int depth) {
  std::atomic<bool> go{false}, stop{false}, failed{false};
  std::atomic<uint64_t> total{0};
  const std::string value(static_cast<size_t>(cfg.value_bytes), 'v');
  std::vector<std::thread> threads;
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t * 7919 + depth));
      std::uniform_int_distribution<int> pick(0, cfg.keys - 1);
      std::vector<std::string> keys(static_cast<size_t>(depth));
      uint64_t done = 0;
      if (proto == Proto::kNative && !cfg.cpp_client) {
        NativeConn conn;
        if (!conn.Connect(cfg.host, cfg.native_port)) {
          failed = true;
          return;
        }
        while (!go.load()) std::this_thread::yield();
        std::string wire;
        skeg::protocol::native::RequestFrame req;
        while (!stop.load(std::memory_order_relaxed)) {
          wire.clear();
          for (auto& k : keys) {
            k = KeyName(pick(rng));
            ++req.req_id;
            if (op == Op::kGet) {
              req.body = skeg::protocol::native::GetRequest{k};
            } else {
              req.body = skeg::protocol::native::SetRequest{k, value};
            }
            if (!skeg::protocol::native::EncodeRequest(req, &wire).ok()) failed = true;
          }
          if (!conn.SendAll(wire) || !conn.ReadFrames(depth)) {
            failed = true;
            break;
          }
          done += static_cast<uint64_t>(depth);
        }
      } else if (proto == Proto::kNative) {
        auto client = skeg::client::Client::Connect(cfg.host, cfg.native_port);
        if (!client.ok()) {
          failed = true;
          return;
        }
        while (!go.load()) std::this_thread::yield();
        skeg::client::Pipeline p(client->get());
        while (!stop.load(std::memory_order_relaxed)) {
          for (auto& k : keys) {
            k = KeyName(pick(rng));
            if (op == Op::kGet) {
              p.Get(k);
            } else {
              p.Set(k, value);
            }
          }
          for (auto& r : p.Execute()) {
            if (!r.ok()) failed = true;
          }
          done += static_cast<uint64_t>(depth);
        }
      } else {
        RespConn conn;
        if (!conn.Connect(cfg.host, cfg.resp_port)) {
          failed = true;
          return;
        }
        while (!go.load()) std::this_thread::yield();
        std::string wire;
        while (!stop.load(std::memory_order_relaxed)) {
          wire.clear();
          for (auto& k : keys) {
            k = KeyName(pick(rng));
            if (op == Op::kGet) {
              const std::string_view args[] = {"GET", k};
              skeg::protocol::resp::AppendRequest(args, &wire);
            } else {
              const std::string_view args[] = {"SET", k, value};
              skeg::protocol::resp::AppendRequest(args, &wire);
            }
          }
          if (!conn.SendAll(wire) || !conn.ReadReplies(depth)) {
            failed = true;
            break;
          }
          done += static_cast<uint64_t>(depth);
        }
      }
      total += done;
    });
  }
  // Let every thread connect before the clock starts.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto begin = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - begin).count();
  if (failed) {
    std::fprintf(stderr, "a %s client failed\n", proto == Proto::kNative ? "native" : "RESP");
    return 0;
  }
  return static_cast<double>(total.load()) / secs;
}

bool Preload(const Config& cfg) {
  auto client = skeg::client::Client::Connect(cfg.host, cfg.native_port);
  if (!client.ok()) {
    std::fprintf(stderr, "connect %s:%u: %s\n", cfg.host.c_str(), cfg.native_port,
                 client.status().ToString().c_str());
    return false;
  }
  const std::string value(static_cast<size_t>(cfg.value_bytes), 'v');
  std::vector<std::string> names;
  for (int i = 0; i < cfg.keys; ++i) names.push_back(KeyName(i));
  for (int i = 0; i < cfg.keys; i += 500) {
    std::vector<skeg::client::KeyValue> pairs;
    for (int j = i; j < std::min(cfg.keys, i + 500); ++j) pairs.push_back({names[j], value});
    if (skeg::Status s = (*client)->MSet(pairs); !s.ok()) {
      std::fprintf(stderr, "preload: %s\n", s.ToString().c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"GET/SET ops/s over the native protocol vs RESP, same skeg server"};
  app.add_option("--host", cfg.host, "server address (IPv4)");
  app.add_option("--native-port", cfg.native_port, "native listener port");
  app.add_option("--resp-port", cfg.resp_port, "RESP listener port");
  app.add_option("--threads", cfg.threads, "client connections (one thread each)");
  app.add_option("--seconds", cfg.seconds, "duration of each cell");
  app.add_option("--pipelines", cfg.pipelines, "pipeline depths")->delimiter(',');
  app.add_option("--keys", cfg.keys, "key space");
  app.add_option("--value-bytes", cfg.value_bytes, "value size");
  app.add_flag("--cpp-client", cfg.cpp_client,
               "native side through clients/cpp Pipeline (decodes every reply) instead of the "
               "minimal client");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!Preload(cfg)) return 1;

  std::printf("threads=%d seconds=%.1f keys=%d value_bytes=%d native_client=%s\n\n", cfg.threads,
              cfg.seconds, cfg.keys, cfg.value_bytes,
              cfg.cpp_client ? "clients/cpp Pipeline" : "minimal");
  std::printf("| op | pipeline | native ops/s | RESP ops/s | native/RESP |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (Op op : {Op::kGet, Op::kSet}) {
    for (int depth : cfg.pipelines) {
      const double native = RunCell(cfg, op, Proto::kNative, depth);
      const double resp = RunCell(cfg, op, Proto::kResp, depth);
      std::printf("| %s | %d | %.0f | %.0f | %.2f |\n", op == Op::kGet ? "GET" : "SET", depth,
                  native, resp, resp > 0 ? native / resp : 0.0);
      std::fflush(stdout);
    }
  }
  return 0;
}
