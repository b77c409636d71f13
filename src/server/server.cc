#include "server/server.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <asio.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "index/distance/distance.h"
#include "platform/cpu_features.h"
#include "platform/thread.h"
#include "server/command/dispatcher.h"
#include "server/command/engine.h"
#include "server/metrics_endpoint.h"
#include "server/native_session.h"
#include "server/resp_session.h"
#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"
#include "telemetry/metrics.h"

// jemalloc's control interface (libjemalloc exports it unprefixed on Debian).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen);

namespace skeg::server {
namespace {

// The navigation code of disk indexes created with kind f32 (--tier).
index::QuantKind TierQuantKind(const TierSpec& tier) {
  switch (tier.kind) {
    case TierSpec::Kind::kInt8:
      return index::QuantKind::kInt8;
    case TierSpec::Kind::kTq1:
      return index::QuantKind::kTq1;
    case TierSpec::Kind::kTq2:
      return index::QuantKind::kTq2;
    case TierSpec::Kind::kTq4:
      return index::QuantKind::kTq4;
    case TierSpec::Kind::kPq:
      return index::QuantKind::kPq;
  }
  return index::QuantKind::kTq2;
}

using asio::ip::tcp;

// How long shutdown waits for connections to finish their in-flight requests before the
// remaining ones are dropped.
constexpr auto kDrainTimeout = std::chrono::seconds(10);
// Pause after an accept error such as EMFILE, so a full fd table does not spin the loop.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

std::string_view SignalName(int signo) {
  return signo == SIGTERM ? "SIGTERM" : signo == SIGINT ? "SIGINT" : "a signal";
}

std::string_view ProtocolName(Protocol p) { return p == Protocol::kResp ? "resp" : "native"; }

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      break;
  }
  return spdlog::level::off;
}

void ConfigureLogging(LogLevel level) {
  // Not registered by name, so a second Server in one process (tests) does not collide.
  auto logger = std::make_shared<spdlog::logger>(
      "skeg", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
  logger->set_level(ToSpdlog(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

// Logs the jemalloc options in effect (confirms the malloc_conf of jemalloc_conf.cc was read).
void LogAllocator() {
  bool background = false;
  ssize_t dirty_ms = 0;
  size_t bool_len = sizeof(background);
  size_t ms_len = sizeof(dirty_ms);
  if (mallctl("opt.background_thread", &background, &bool_len, nullptr, 0) != 0 ||
      mallctl("opt.dirty_decay_ms", &dirty_ms, &ms_len, nullptr, 0) != 0) {
    spdlog::warn("allocator: jemalloc options unavailable");
    return;
  }
  spdlog::info("allocator: jemalloc background_thread={} dirty_decay_ms={}", background, dirty_ms);
}

void LogRecovery(const storage::RecoveryInfo& r, const std::string& dir) {
  if (r.created) {
    spdlog::info("storage: created a new store in {} ({:.3f} s)", dir, r.seconds);
    return;
  }
  spdlog::info(
      "storage: recovered {} keys from {} segments in {:.3f} s (checkpoint {}, replayed {} "
      "records / {} bytes)",
      r.keys, r.segments, r.seconds, r.used_checkpoint ? "loaded" : "absent", r.replayed_records,
      r.replayed_bytes);
  if (r.truncated_bytes > 0) {
    spdlog::warn("storage: truncated a torn tail of {} bytes from {}", r.truncated_bytes,
                 r.truncated_file);
  }
}

}  // namespace

class Connection;

class Server::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {}
  ~Impl() { Shutdown().IgnoreError(); }

  Status Start();
  Status Run();
  void RequestShutdown();
  std::vector<BoundListener> listeners() const {
    std::lock_guard lock(mu_);
    return bound_;
  }

  // Connection registry; a connection registers when accepted and leaves when destroyed.
  // Register returns false once shutdown has begun: the caller drops the connection.
  bool Register(const std::shared_ptr<Connection>& conn);
  void Unregister(Connection* conn);
  const ServerOptions& options() const { return options_; }
  Dispatcher* dispatcher() const { return dispatcher_.get(); }
  Engine* engine() const { return engine_.get(); }
  telemetry::Registry* registry() { return &registry_; }
  // Network counters (null-safe: set in Start()).
  void CountBytes(size_t in, size_t out) {
    if (bytes_in_ != nullptr) bytes_in_->Inc(in);
    if (bytes_out_ != nullptr) bytes_out_->Inc(out);
  }
  // Relaxed tier: replies parked on Store::OnDurable are released by one Store::FlushWrites
  // per event-loop pass, from a handler posted behind the ones ready now (Asio runs it after
  // them and one non-blocking poll), as Redis writes its AOF buffer once per pass before it
  // replies. Without it they wait for the syncer's next pass, behind an fdatasync. Other
  // tiers: nothing to do. Thread-safe.
  void ScheduleFlushWrites() {
    if (!flush_writes_ || flush_posted_.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(io_, [this] {
      flush_posted_.store(false, std::memory_order_release);
      // A failure fails the store and completes the parked writes with the error.
      store_->FlushWrites().IgnoreError();
    });
  }

 private:
  // Creates the Engine and Dispatcher over the opened store and registers server metrics.
  void SetUpCommands();
  Status OpenVectors();

  struct Acceptor {
    Acceptor(asio::any_io_executor executor, Protocol p)
        : protocol(p), socket(std::move(executor)) {}
    Protocol protocol;
    tcp::acceptor socket;
    asio::steady_timer retry{socket.get_executor()};
  };

  Status Bind(const ListenerConfig& config, Protocol protocol, std::string_view flag);
  // Serves /metrics when --metrics-port is not 0 (explicit port: must bind; default: warn).
  Status StartMetrics();
  void Accept(Acceptor* acceptor);
  void WaitForSignal();
  // Stops accepting, drains connections, stops the I/O threads and closes the store.
  // Idempotent.
  Status Shutdown();

  const ServerOptions options_;
  // Declared before io_ so that it outlives the handlers io_ destroys (they hold connections
  // that unregister here).
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_requested_ = false;  // guarded by mu_
  bool force_shutdown_ = false;      // guarded by mu_: a second signal skips the drain
  bool draining_ = false;            // guarded by mu_: no new connections are registered
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;  // guarded by mu_
  std::vector<BoundListener> bound_;                                        // guarded by mu_

  // The registry outlives everything that holds metric pointers (declared first).
  telemetry::Registry registry_;
  telemetry::Counter* bytes_in_ = nullptr;
  telemetry::Counter* bytes_out_ = nullptr;
  telemetry::Counter* connections_total_ = nullptr;
  telemetry::Counter* rejected_total_ = nullptr;
  // Shared by the value log and the vector indexes; outlives the store.
  std::unique_ptr<storage::PageCache> page_cache_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Dispatcher> dispatcher_;
  // With one I/O thread, tell Asio so (it skips waking other threads) and give connections the
  // io_context's executor itself: one thread already serializes their handlers, so a strand
  // would only add its locking and queueing to every handler.
  asio::io_context io_{options_.workers == 1 ? 1 : ASIO_CONCURRENCY_HINT_DEFAULT};
  asio::any_io_executor ConnectionExecutor() {
    if (options_.workers == 1) return io_.get_executor();
    return asio::make_strand(io_);
  }
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  asio::signal_set signals_{io_};
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<std::thread> threads_;
  bool flush_writes_ = false;  // set in Start(): the store acknowledges at the write (relaxed)
  std::atomic<bool> flush_posted_{false};  // a ScheduleFlushWrites handler is queued
  bool started_ = false;
  bool shut_down_ = false;
};

// One client connection. All its handlers run on its strand (with one I/O thread, on that
// thread, which serializes them the same way), so its members need no lock. At
// most one read or one write is outstanding at a time: requests are answered in order, and a
// client that pipelines faster than it reads is throttled by TCP (RespSession and NativeSession
// yield after 64 KiB of pending replies; we write them before parsing more). A connection holds
// the session of its listener's protocol; both run the same Dispatcher.
//
// Threading: command handlers run inline on the strand. A write blocks only until the
// committer has appended and applied its group (no fsync wait); the connection then parks
// until Store::OnDurable reports that every write behind its pending replies is durable, and
// only then writes them. Many connections' writes, and all the writes of one pipeline, thus
// share one sync. See docs/server.md.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl* server, Protocol protocol, tcp::socket socket)
      : server_(server), protocol_(protocol), socket_(std::move(socket)) {}
  ~Connection() {
    session_.reset();  // unregisters the client before the server forgets the connection
    native_.reset();
    server_->Unregister(this);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start() {
    std::error_code ec;
    // Write() sends with write_some, which must return would_block rather than wait.
    socket_.non_blocking(true, ec);
    const tcp::endpoint remote = socket_.remote_endpoint(ec);
    const tcp::endpoint local = socket_.local_endpoint(ec);
    if (protocol_ == Protocol::kResp) {
      SessionOptions options;
      options.parser.max_bulk_bytes = server_->options().max_bulk_bytes;
      options.defer_durability = true;
      session_ = std::make_unique<RespSession>(server_->dispatcher(), EndpointText(remote),
                                               EndpointText(local), options);
    } else {
      NativeSessionOptions options;
      options.defer_durability = true;
      native_ = std::make_unique<NativeSession>(server_->dispatcher(), EndpointText(remote),
                                                EndpointText(local), options);
    }
    std::weak_ptr<Connection> weak = weak_from_this();
    conn().client->set_killer([weak] {
      if (auto self = weak.lock()) self->Kill();
    });
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  // Graceful stop: requests already read are answered, then the socket closes. Thread-safe.
  void Stop() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (!self->writing_) self->Close();
    });
  }

  // CLIENT KILL from another connection: close as soon as the current write (if any) is done.
  void Kill() { Stop(); }

 private:
  static std::string EndpointText(const tcp::endpoint& e) {
    return fmt::format("{}:{}", e.address().to_string(), e.port());
  }

  void Read() {
    if (stopping_) return Close();
    socket_.async_read_some(
        asio::buffer(chunk_),
        [self = shared_from_this()](std::error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(std::error_code ec, size_t n) {
    if (ec) return Close();
    server_->CountBytes(n, 0);
    server_->engine()->stats().net_input_bytes.fetch_add(n, std::memory_order_relaxed);
    input_.append(chunk_.data(), n);
    Process();
  }

  // The connection's state, shared by both protocols.
  ConnectionContext& conn() { return native_ ? native_->conn() : session_->conn(); }

  // Runs every complete request in input_, then writes or reads as the session says.
  void Process() {
    yielded_ = false;
    switch (native_ ? native_->Process(&input_, &output_) : session_->Process(&input_, &output_)) {
      case RespSession::Outcome::kAbort:
        spdlog::warn("closing client {}: output buffer limit exceeded", conn().id());
        return Close();
      case RespSession::Outcome::kClose:
        if (native_ && !native_->close_reason().ok()) {
          spdlog::info("closing native client {}: {}", conn().id(),
                       native_->close_reason().ToString());
        }
        close_after_write_ = true;
        break;
      case RespSession::Outcome::kYield:
        yielded_ = true;
        break;
      case RespSession::Outcome::kNeedInput:
        break;
    }
    uint64_t ticket = std::max(carried_ticket_, native_ ? native_->TakeDurabilityTicket()
                                                        : session_->TakeDurabilityTicket());
    // Writes with nothing to acknowledge yet (native NO_REPLY) need not hold up reading: their
    // ticket is carried to the next reply, which is sent only once they are durable too.
    carried_ticket_ = output_.empty() ? ticket : 0;
    if (output_.empty()) ticket = 0;
    if (ticket != 0) {
      // Writes in this output are applied but maybe not durable yet: reply once they are.
      // Meanwhile nothing else is read from this client, so its replies stay in order.
      writing_ = true;
      server_->engine()->store()->OnDurable(ticket, [self = shared_from_this()](const Status& s) {
        asio::post(self->socket_.get_executor(), [self, s] {
          self->writing_ = false;
          if (!s.ok()) {
            // Never acknowledge a write that is not durable: drop the replies.
            spdlog::error("closing client {}: {}", self->conn().id(), s.ToString());
            return self->Close();
          }
          self->FlushOrContinue();
        });
      });
      server_->ScheduleFlushWrites();
      return;
    }
    FlushOrContinue();
  }

  void FlushOrContinue() {
    if (!output_.empty()) return Write();
    if (close_after_write_ || stopping_) return Close();
    if (yielded_) return Process();
    Read();
  }

  // Sends output_. A reply usually fits the socket's send buffer: it goes out with one
  // non-blocking send, and the connection moves on without the hop through the scheduler that
  // an async_write completion costs; the rest of a partial send goes through async_write.
  void Write() {
    std::error_code send_ec;
    const size_t sent = socket_.write_some(asio::buffer(output_), send_ec);
    if (send_ec && send_ec != asio::error::would_block && send_ec != asio::error::try_again) {
      return Close();
    }
    const size_t done = send_ec ? 0 : sent;
    CountOutput(done);
    writing_ = true;
    if (done == output_.size()) {
      // Sent. A yielded session goes on from a posted handler: Process() may call Write()
      // again, which must not recurse once per 64 KiB of a long pipeline.
      if (!yielded_) return AfterWrite({});
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->AfterWrite({}); });
      return;
    }
    // The rest from where the send stopped, without a copy.
    asio::async_write(socket_, asio::buffer(output_) + done,
                      [self = shared_from_this()](std::error_code ec, size_t n) {
                        self->CountOutput(n);
                        self->AfterWrite(ec);
                      });
  }

  void AfterWrite(std::error_code ec) {
    writing_ = false;
    output_.clear();
    if (ec) return Close();
    FlushOrContinue();
  }

  void CountOutput(size_t n) {
    server_->CountBytes(0, n);
    server_->engine()->stats().net_output_bytes.fetch_add(n, std::memory_order_relaxed);
  }

  void Close() {
    std::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Server::Impl* const server_;
  const Protocol protocol_;
  tcp::socket socket_;
  std::unique_ptr<RespSession> session_;   // RESP only
  std::unique_ptr<NativeSession> native_;  // native only
  std::array<char, 16 * 1024> chunk_;
  std::string input_;
  std::string output_;
  bool writing_ = false;
  bool stopping_ = false;
  bool close_after_write_ = false;
  bool yielded_ = false;  // the session has unprocessed input waiting for the write to finish
  uint64_t carried_ticket_ = 0;  // writes not yet durable whose acknowledgement is still ahead
};

bool Server::Impl::Register(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mu_);
  if (draining_) return false;
  connections_.emplace(conn.get(), conn);
  return true;
}

void Server::Impl::Unregister(Connection* conn) {
  std::lock_guard lock(mu_);
  connections_.erase(conn);
  if (connections_.empty()) cv_.notify_all();
}

Status Server::Impl::Start() {
  ConfigureLogging(options_.log_level);
  spdlog::info("{} {} starting (pid {}): {}", BinaryName(options_.binary), kSkegVersion, ::getpid(),
               options_.Summary());
  const platform::CpuFeatures& cpu = platform::DetectCpu();
  // The distance-kernel table is chosen once, here, before any thread uses it: the best level
  // the CPU has, or a lower one named by SKEG_SIMD (scalar | avx2 | avx512).
  const char* simd_override = std::getenv("SKEG_SIMD");
  auto simd = platform::SelectSimdLevel(cpu, simd_override != nullptr ? simd_override : "");
  if (!simd) return simd.error().WithContext("SKEG_SIMD");
  SKEG_RETURN_IF_ERROR(index::SetSimdLevel(*simd).WithContext("SKEG_SIMD"));
  spdlog::info("cpu: {}; distance kernels: {}", cpu.ToString(), index::ActiveSimdLevelName());
  registry_.AddGauge("skeg_simd_level_info", "Active distance-kernel instruction set (value 1).",
                     {{"level", std::string(index::ActiveSimdLevelName())}}, [] { return 1.0; });
  LogAllocator();

  // Signals are caught from here on: one arriving during recovery is handled right after it.
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  WaitForSignal();

  page_cache_ = std::make_unique<storage::PageCache>(options_.cache_bytes);
  storage::StoreOptions store_options = ToStoreOptions(options_);
  store_options.page_cache = page_cache_.get();
  SKEG_ASSIGN_OR_RETURN(store_, storage::Store::Open(store_options));
  LogRecovery(store_->recovery_info(), options_.data_dir);
  flush_writes_ = store_->durability() == storage::Durability::kRelaxed;
  SetUpCommands();
  SKEG_RETURN_IF_ERROR(OpenVectors());
  // Name the holder at once, so a second process started while we bind can say who we are.
  SKEG_RETURN_IF_ERROR(store_->SetLockHolderInfo(fmt::format("pid={} addrs=starting", ::getpid())));

  const bool skeg = options_.binary == Binary::kSkeg;
  SKEG_RETURN_IF_ERROR(
      Bind(options_.resp_listener(), Protocol::kResp, skeg ? "--resp-addr" : "--addr"));
  SKEG_RETURN_IF_ERROR(
      Bind(options_.native_listener(), Protocol::kNative, skeg ? "--addr" : "--native-addr"));

  std::string addrs;
  for (const BoundListener& l : listeners()) {
    addrs += fmt::format("{}{}={}", addrs.empty() ? "" : ",", ProtocolName(l.protocol),
                         l.endpoint.ToString());
  }
  if (addrs.empty()) spdlog::warn("no listener is active");
  SKEG_RETURN_IF_ERROR(
      store_->SetLockHolderInfo(fmt::format("pid={} addrs={}", ::getpid(), addrs)));
  SKEG_RETURN_IF_ERROR(StartMetrics());
  for (const auto& acceptor : acceptors_) Accept(acceptor.get());
  started_ = true;
  return Status::Ok();
}

// Rebuilds the vector indexes from the value log before any listener is bound.
Status Server::Impl::OpenVectors() {
  index::CollectionOptions co;
  co.index_dir = options_.data_dir + "/indexes";
  co.cache = page_cache_.get();
  co.direct_io = options_.io == IoMode::kDirect;
  // SKEG_IO_URING=off forces the pread backend for index reads (diagnostics, comparisons).
  if (const char* uring = std::getenv("SKEG_IO_URING");
      uring != nullptr && (std::string_view(uring) == "off" || std::string_view(uring) == "0")) {
    co.prefer_io_uring = false;
  }
  co.default_tier = TierQuantKind(options_.tier);
  co.build_memory_bytes = options_.build_memory_bytes;
  co.l_search = options_.l_search;
  co.beam_width = options_.beam_width;
  co.read_only = options_.mode == ServerMode::kServe;
  SKEG_RETURN_IF_ERROR(engine_->OpenVectors(co));
  const index::CollectionOpenInfo& info = engine_->vectors()->open_info();
  spdlog::info(
      "vector indexes: {} opened, {} vectors in {:.3f} s ({:.0f} vectors/s); {} trained at "
      "open; {} records of dropped indexes removed",
      info.indexes, info.vectors, info.seconds,
      info.seconds > 0 ? static_cast<double>(info.vectors) / info.seconds : 0.0,
      info.trained_at_open, info.orphan_records_removed);
  return Status::Ok();
}

void Server::Impl::SetUpCommands() {
  EngineOptions eo;
  eo.requirepass = options_.requirepass;
  eo.read_only = options_.mode == ServerMode::kServe;
  eo.max_clients = options_.max_clients;
  eo.max_bulk_bytes = options_.max_bulk_bytes;
  eo.workers = options_.workers;
  eo.tcp_port = options_.resp_listener().endpoint.port;
  eo.data_dir = options_.data_dir;
  eo.config_file = options_.config_file;
  eo.binary_name = std::string(BinaryName(options_.binary));
  eo.version = std::string(kSkegVersion);
  eo.durability = std::string(storage::DurabilityName(options_.durability));
  eo.page_cache = page_cache_.get();
  engine_ = std::make_unique<Engine>(store_.get(), std::move(eo));
  dispatcher_ = std::make_unique<Dispatcher>(engine_.get(), &registry_);
  bytes_in_ = registry_.GetCounter("skeg_net_input_bytes_total", "Bytes read from clients.");
  bytes_out_ = registry_.GetCounter("skeg_net_output_bytes_total", "Bytes written to clients.");
  connections_total_ =
      registry_.GetCounter("skeg_connections_total", "Client connections accepted.");
  rejected_total_ = registry_.GetCounter("skeg_connections_rejected_total",
                                         "Client connections refused by --max-clients.");
  registry_.AddGauge("skeg_connections", "Client connections currently open.", {}, [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(connections_.size());
  });
}

Status Server::Impl::StartMetrics() {
  if (options_.metrics_port == 0) return Status::Ok();
  RegisterProcessMetrics(&registry_);
  RegisterStoreMetrics(&registry_, store_.get());
  RegisterCacheMetrics(&registry_, page_cache_.get());
  auto endpoint = MetricsEndpoint::Start(options_.metrics_addr, options_.metrics_port, &registry_);
  if (!endpoint) {
    if (options_.metrics_explicit) return endpoint.error().WithContext("--metrics-port");
    spdlog::warn("{}; the default metrics endpoint stays off", endpoint.error().ToString());
    return Status::Ok();
  }
  metrics_ = std::move(endpoint).value();
  spdlog::info("listening: metrics on http://{}/metrics", metrics_->address());
  return Status::Ok();
}

Status Server::Impl::Bind(const ListenerConfig& config, Protocol protocol, std::string_view flag) {
  if (!config.enabled) return Status::Ok();
  const std::string where = config.endpoint.ToString();
  std::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address(config.endpoint.host, ec),
                               config.endpoint.port);
  auto acceptor = std::make_unique<Acceptor>(ConnectionExecutor(), protocol);
  tcp::acceptor& a = acceptor->socket;
  // Each step runs only while the previous ones succeeded; `step` names the one that failed.
  std::string_view step = "resolve";
  const auto run = [&ec, &step](std::string_view name, const auto& fn) {
    if (ec) return;
    step = name;
    fn();
  };
  run("open", [&] { a.open(endpoint.protocol(), ec); });
  run("set SO_REUSEADDR on", [&] { a.set_option(tcp::acceptor::reuse_address(true), ec); });
  run("bind", [&] { a.bind(endpoint, ec); });
  run("listen on", [&] { a.listen(asio::socket_base::max_listen_connections, ec); });
  if (ec) {
    const std::string message = fmt::format("cannot {} {} ({} listener, {}): {}", step, where,
                                            ProtocolName(protocol), flag, ec.message());
    if (config.is_explicit) return Status::IOError(message);
    spdlog::warn("{}; this default listener stays off", message);
    return Status::Ok();
  }
  const tcp::endpoint local = a.local_endpoint(ec);
  BoundListener bound{protocol,
                      Endpoint{config.endpoint.host, ec ? config.endpoint.port : local.port()}};
  spdlog::info("listening: {} on {}", ProtocolName(protocol), bound.endpoint.ToString());
  {
    std::lock_guard lock(mu_);
    bound_.push_back(std::move(bound));
  }
  acceptors_.push_back(std::move(acceptor));
  return Status::Ok();
}

void Server::Impl::Accept(Acceptor* acceptor) {
  acceptor->socket.async_accept(
      ConnectionExecutor(), [this, acceptor](std::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor->socket.is_open()) return;
        if (ec) {
          spdlog::warn("accept on {} failed: {}", ProtocolName(acceptor->protocol), ec.message());
          acceptor->retry.expires_after(kAcceptRetryDelay);
          acceptor->retry.async_wait([this, acceptor](std::error_code timer_ec) {
            if (!timer_ec) Accept(acceptor);
          });
          return;
        }
        bool full;
        {
          std::lock_guard lock(mu_);
          full = connections_.size() >= options_.max_clients;
        }
        if (full) {
          // A tiny blocking write on a fresh socket; then drop the client.
          if (acceptor->protocol == Protocol::kResp) {
            std::error_code ignored;
            constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
            asio::write(socket, asio::buffer(kFull.data(), kFull.size()), ignored);
          }
          spdlog::warn("rejected a {} client: --max-clients {} reached",
                       ProtocolName(acceptor->protocol), options_.max_clients);
          rejected_total_->Inc();
          engine_->stats().rejected_connections.fetch_add(1, std::memory_order_relaxed);
        } else {
          std::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          socket.set_option(asio::socket_base::keep_alive(true), ignored);
          connections_total_->Inc();
          auto conn = std::make_shared<Connection>(this, acceptor->protocol, std::move(socket));
          if (Register(conn)) conn->Start();
        }
        Accept(acceptor);
      });
}

void Server::Impl::WaitForSignal() {
  signals_.async_wait([this](std::error_code ec, int signo) {
    if (ec) return;
    {
      std::lock_guard lock(mu_);
      if (shutdown_requested_) {
        spdlog::warn("received {} again: dropping open connections now", SignalName(signo));
        force_shutdown_ = true;
        cv_.notify_all();
        return;
      }
    }
    spdlog::info("received {}: shutting down", SignalName(signo));
    RequestShutdown();
    WaitForSignal();
  });
}

void Server::Impl::RequestShutdown() {
  std::lock_guard lock(mu_);
  shutdown_requested_ = true;
  cv_.notify_all();
}

Status Server::Impl::Run() {
  SKEG_CHECK(started_);
  spdlog::info("ready: {} I/O threads", options_.workers);
  for (uint32_t i = 0; i < options_.workers; ++i) {
    threads_.emplace_back([this] {
      platform::SetCurrentThreadName("skeg-io");
      io_.run();
    });
  }
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return shutdown_requested_; });
  }
  return Shutdown();
}

Status Server::Impl::Shutdown() {
  if (shut_down_) return Status::Ok();
  shut_down_ = true;
  const auto begin = std::chrono::steady_clock::now();

  // 1. Stop accepting. Closing runs on each acceptor's strand, as its handlers do.
  for (const auto& acceptor : acceptors_) {
    asio::post(acceptor->socket.get_executor(), [a = acceptor.get()] {
      std::error_code ignored;
      a->socket.close(ignored);
      a->retry.cancel();
    });
  }
  // 2. Let connections answer what they have read, then close.
  std::vector<std::shared_ptr<Connection>> open;
  {
    // From here on an accept that races with closing the acceptors is dropped (Register),
    // so the snapshot below covers every connection that will ever exist.
    std::lock_guard lock(mu_);
    draining_ = true;
    for (const auto& [ptr, weak] : connections_) {
      if (auto conn = weak.lock()) open.push_back(std::move(conn));
    }
  }
  const size_t open_count = open.size();
  for (const auto& conn : open) conn->Stop();
  open.clear();
  bool drained = true;
  if (!threads_.empty()) {
    std::unique_lock lock(mu_);
    drained = cv_.wait_for(lock, kDrainTimeout, [this] {
      return connections_.empty() || force_shutdown_;
    }) && connections_.empty();
  }
  if (!drained) spdlog::warn("shutdown: dropping connections that did not finish in time");

  // 3. Stop the I/O threads. Handlers still pending are destroyed with io_.
  signals_.cancel();
  work_.reset();
  io_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  acceptors_.clear();

  // 4. The endpoint reads the store's statistics: stop it before the store closes.
  if (metrics_ != nullptr) metrics_->Stop();
  metrics_.reset();

  // 5. Make everything durable and release the directory.
  Status status;
  if (store_ != nullptr) {
    status = store_->Close();
    if (status.ok()) {
      spdlog::info("storage: synced and closed {}", options_.data_dir);
    } else {
      spdlog::error("storage: close failed: {}", status.ToString());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  if (started_) {
    spdlog::info("shutdown complete in {:.3f} s ({} connections drained)", seconds, open_count);
  }
  spdlog::default_logger()->flush();
  return status;
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
Status Server::Start() { return impl_->Start(); }
Status Server::Run() { return impl_->Run(); }
void Server::RequestShutdown() { impl_->RequestShutdown(); }
std::vector<BoundListener> Server::listeners() const { return impl_->listeners(); }
telemetry::Registry* Server::registry() { return impl_->registry(); }

int ServerMain(Binary binary, int argc, char** argv) {
  const std::string_view name = BinaryName(binary);
  auto parsed = ParseCommandLine(binary, argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "%.*s: error: %.*s\n", static_cast<int>(name.size()), name.data(),
                 static_cast<int>(parsed.error().message().size()),
                 parsed.error().message().data());
    std::fprintf(stderr, "Run '%.*s --help' for the list of flags.\n",
                 static_cast<int>(name.size()), name.data());
    return 2;
  }
  if (!parsed->print_and_exit.empty()) {
    std::fputs(parsed->print_and_exit.c_str(), stdout);
    return 0;
  }
  Status status;
  {
    Server server(std::move(parsed->options));
    status = server.Start();
    if (status.ok()) status = server.Run();
  }
  if (!status.ok()) {
    std::fprintf(stderr, "%.*s: error: %s\n", static_cast<int>(name.size()), name.data(),
                 status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace skeg::server
