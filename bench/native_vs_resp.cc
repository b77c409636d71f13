// native_vs_resp: GET and SET throughput of one skeg server over its native protocol and over
// RESP, same server, same run, same client threads, keys, values and pipeline depths. Prints a
// Markdown table with the ratio native/RESP per row.
//
// The clients are built so the SERVER is what is measured: each client thread pre-encodes 64
// batches of `depth` requests (random keys; the native codec / protocol/resp AppendRequest) and
// then only cycles through them: send one batch, skip `depth` replies by their length, repeat.
// Pin the server to one core and the clients to the other, so the server core is the bottleneck:
//
//   taskset -c 0 build/release/bin/skeg --data-dir /var/tmp/nvr --addr 127.0.0.1:7379
//       --resp-addr 127.0.0.1:6379 --metrics-port 0 &      (one line)
//   taskset -c 1 build/release/bench/native_vs_resp --threads 8 --seconds 3 --pipelines 1,16
//
// --cpp-client drives the native side through clients/cpp's Pipeline instead (encodes and
// decodes every request and reply: a client-bound measurement of that library). Keys are drawn
// uniformly from --keys keys (preloaded), values are --value-bytes bytes.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  std::vector<std::string> ops = {"get", "set"};
  int keys = 10000;
  int value_bytes = 64;
  // Drive the native side with clients/cpp's Pipeline instead of the minimal client.
  bool cpp_client = false;
  // When set, the server's CPU time per request is reported (from /proc/PID/stat).
  int server_pid = 0;
};

std::string KeyName(int i) { return "bench:" + std::to_string(i); }

// ---- minimal client: sends pre-encoded bytes, skips replies by their length ----

class Conn {
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
  ~Conn() {
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

  // Reads and skips `count` RESP replies (simple, error, integer, bulk). False on I/O failure
  // or an error reply.
  bool ReadReplies(int count) {
    while (count > 0) {
      const std::string_view rest = std::string_view(in_).substr(pos_);
      const size_t eol = rest.find("\r\n");
      size_t used = 0;
      if (eol != std::string_view::npos) {
        if (rest[0] == '+' || rest[0] == ':') {
          used = eol + 2;
        } else if (rest[0] == '$') {
          const long len = std::strtol(rest.data() + 1, nullptr, 10);
          used = len < 0 ? eol + 2 : eol + 2 + static_cast<size_t>(len) + 2;
          if (rest.size() < used) used = 0;
        } else {
          std::fprintf(stderr, "RESP error: %.*s\n", static_cast<int>(eol), rest.data());
          return false;
        }
      }
      if (used == 0) {
        if (!Receive()) return false;
        continue;
      }
      pos_ += used;
      --count;
    }
    return true;
  }

  // Reads and skips `count` native response frames. False on I/O failure or an Err other
  // than NotFound (a GET miss).
  bool ReadFrames(int count) {
    constexpr size_t kHeader = skeg::protocol::native::kHeaderBytes;
    while (count > 0) {
      const std::string_view rest = std::string_view(in_).substr(pos_);
      if (rest.size() >= kHeader) {
        const uint32_t len = skeg::DecodeFixed32(rest.data() + 16);
        if (rest.size() >= kHeader + len) {
          const auto op = static_cast<uint8_t>(rest[3]);
          if (op != 0xC0 && (len == 0 || rest[kHeader] != 0x01)) return false;
          pos_ += kHeader + len;
          --count;
          continue;
        }
      }
      if (!Receive()) return false;
    }
    return true;
  }

 private:
  // Drops the consumed bytes and appends what one recv() returns. False on EOF or error.
  bool Receive() {
    in_.erase(0, pos_);
    pos_ = 0;
    char chunk[64 * 1024];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    in_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string in_;
  size_t pos_ = 0;
};

// ---- the runs ----

// Distinct pre-encoded request batches per client thread (cycled).
constexpr size_t kBatches = 64;

enum class Op { kGet, kSet };
enum class Proto { kNative, kResp };

// CPU seconds (user + system) the process `pid` has used so far; -1 when unreadable.
double ProcessCpuSeconds(int pid) {
  if (pid <= 0) return -1;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[4096];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct CellResult {
  double ops_per_sec = 0;        // 0 on failure
  double server_us_per_op = -1;  // server CPU microseconds per request; -1 without --server-pid
};

// Runs one cell.
CellResult RunCell(const Config& cfg, Op op, Proto proto, int depth) {
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
      if (!cfg.cpp_client || proto == Proto::kResp) {
        // Pre-encoded batches, cycled: per request the client only sends bytes and skips a
        // reply, so the server's work is what the cell measures.
        std::vector<std::string> batches(kBatches);
        skeg::protocol::native::RequestFrame req;
        for (std::string& wire : batches) {
          for (auto& k : keys) {
            k = KeyName(pick(rng));
            if (proto == Proto::kResp) {
              const std::string_view get[] = {"GET", k};
              const std::string_view set[] = {"SET", k, value};
              if (op == Op::kGet) {
                skeg::protocol::resp::AppendRequest(get, &wire);
              } else {
                skeg::protocol::resp::AppendRequest(set, &wire);
              }
              continue;
            }
            ++req.req_id;
            if (op == Op::kGet) {
              req.body = skeg::protocol::native::GetRequest{k};
            } else {
              req.body = skeg::protocol::native::SetRequest{k, value};
            }
            if (!skeg::protocol::native::EncodeRequest(req, &wire).ok()) failed = true;
          }
        }
        Conn conn;
        if (!conn.Connect(cfg.host, proto == Proto::kResp ? cfg.resp_port : cfg.native_port)) {
          failed = true;
          return;
        }
        while (!go.load()) std::this_thread::yield();
        for (size_t i = 0; !stop.load(std::memory_order_relaxed); i = (i + 1) % kBatches) {
          if (!conn.SendAll(batches[i]) ||
              (proto == Proto::kNative ? !conn.ReadFrames(depth) : !conn.ReadReplies(depth))) {
            failed = true;
            break;
          }
          done += static_cast<uint64_t>(depth);
        }
      } else {
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
      }
      total += done;
    });
  }
  // Let every thread connect before the clock starts.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double cpu_begin = ProcessCpuSeconds(cfg.server_pid);
  const auto begin = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double cpu_end = ProcessCpuSeconds(cfg.server_pid);
  const double secs = std::chrono::duration<double>(Clock::now() - begin).count();
  if (failed) {
    std::fprintf(stderr, "a %s client failed\n", proto == Proto::kNative ? "native" : "RESP");
    return {};
  }
  CellResult r;
  r.ops_per_sec = static_cast<double>(total.load()) / secs;
  if (cpu_begin >= 0 && cpu_end >= 0 && total.load() > 0) {
    r.server_us_per_op = (cpu_end - cpu_begin) * 1e6 / static_cast<double>(total.load());
  }
  return r;
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
  app.add_option("--ops", cfg.ops, "operations to run (get, set)")
      ->delimiter(',')
      ->check(CLI::IsMember({"get", "set"}));
  app.add_option("--keys", cfg.keys, "key space");
  app.add_option("--value-bytes", cfg.value_bytes, "value size");
  app.add_flag("--cpp-client", cfg.cpp_client,
               "native side through clients/cpp Pipeline (decodes every reply) instead of the "
               "minimal client");
  app.add_option("--server-pid", cfg.server_pid,
                 "report the server's CPU microseconds per request (reads /proc/PID/stat; robust "
                 "to a noisy machine where ops/s is not)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!Preload(cfg)) return 1;

  std::printf("threads=%d seconds=%.1f keys=%d value_bytes=%d native_client=%s\n\n", cfg.threads,
              cfg.seconds, cfg.keys, cfg.value_bytes,
              cfg.cpp_client ? "clients/cpp Pipeline" : "minimal");
  std::printf(
      "| op | pipeline | native ops/s | RESP ops/s | native/RESP | server CPU us/op native | "
      "RESP | RESP/native |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& name : cfg.ops) {
    const Op op = name == "get" ? Op::kGet : Op::kSet;
    for (int depth : cfg.pipelines) {
      const CellResult native = RunCell(cfg, op, Proto::kNative, depth);
      const CellResult resp = RunCell(cfg, op, Proto::kResp, depth);
      const auto ratio = [](double a, double b) { return b > 0 && a > 0 ? a / b : 0.0; };
      std::printf("| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n",
                  op == Op::kGet ? "GET" : "SET", depth, native.ops_per_sec, resp.ops_per_sec,
                  ratio(native.ops_per_sec, resp.ops_per_sec), native.server_us_per_op,
                  resp.server_us_per_op, ratio(resp.server_us_per_op, native.server_us_per_op));
      std::fflush(stdout);
    }
  }
  return 0;
}
