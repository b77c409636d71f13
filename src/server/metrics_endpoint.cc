#include "server/metrics_endpoint.h"

#include <httplib.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <utility>

#include <sys/socket.h>

#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"

namespace skeg::server {

namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// Scrapes are rare and cheap; two workers let a slow client not block the next scrape.
constexpr size_t kWorkerThreads = 2;
// Bounds how long Stop() waits for an idle keep-alive connection to go away.
constexpr time_t kKeepAliveSeconds = 1;

std::string FormatAddress(const std::string& host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// httplib's default sets SO_REUSEPORT, which lets a second listener share a port that is
// already served (the kernel then splits connections between them). We want a clear bind
// error instead; SO_REUSEADDR alone still allows a quick restart over TIME_WAIT sockets.
void SetSocketOptions(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<httplib::Server> http, uint16_t port,
                                 std::string address)
    : http_(std::move(http)), port_(port), address_(std::move(address)) {}

MetricsEndpoint::~MetricsEndpoint() { Stop(); }

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& host,
                                                                uint16_t port,
                                                                telemetry::Registry* registry) {
  SKEG_CHECK(registry != nullptr);
  const std::string requested = FormatAddress(host, port);
  // httplib reports failures by exception (allocation, thread creation) as well as by return
  // value; none may escape into project code.
  try {
    auto http = std::make_unique<httplib::Server>();
    http->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
    http->set_socket_options(SetSocketOptions);
    http->set_keep_alive_timeout(kKeepAliveSeconds);
    http->Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
      try {
        res.set_content(registry->RenderPrometheus(), kContentType);
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(std::string("rendering metrics failed: ") + e.what(), "text/plain");
      }
    });

    errno = 0;
    int bound = port == 0 ? http->bind_to_any_port(host)
                          : (http->bind_to_port(host, port) ? static_cast<int>(port) : -1);
    int err = errno;
    if (bound <= 0) {
      std::string context = "metrics endpoint: cannot listen on " + requested;
      // httplib returns no error detail; errno is the one left by the failing
      // getaddrinfo/socket/bind/listen call (0 when the host did not resolve).
      if (err != 0) return Status::FromErrno(err, context);
      return Status::IOError(context + ": cannot resolve or bind the address");
    }

    std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint(
        std::move(http), static_cast<uint16_t>(bound), FormatAddress(host, bound)));
    httplib::Server* server = endpoint->http_.get();
    endpoint->thread_ = std::thread([server, exited = &endpoint->loop_exited_] {
      try {
        server->listen_after_bind();
      } catch (...) {
        // Leaves the loop; Start() (or a later scrape failing) reports it.
      }
      exited->store(true, std::memory_order_release);
    });
    // Return only once the accept loop runs, so that Stop() cannot miss it.
    while (!server->is_running()) {
      if (endpoint->loop_exited_.load(std::memory_order_acquire)) {
        endpoint->thread_.join();
        return Status::IOError("metrics endpoint on " + endpoint->address_ +
                               ": the listener thread failed to start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return endpoint;
  } catch (const std::exception& e) {
    return Status::IOError("metrics endpoint on " + requested + ": " + e.what());
  } catch (...) {
    return Status::IOError("metrics endpoint on " + requested + ": unknown error");
  }
}

void MetricsEndpoint::Stop() {
  std::lock_guard lock(stop_mu_);
  if (!thread_.joinable()) return;
  // httplib's stop() does nothing until the loop has marked itself running; repeat until the
  // loop has left.
  while (!loop_exited_.load(std::memory_order_acquire)) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  thread_.join();
}

void RegisterProcessMetrics(telemetry::Registry* registry) {
  const std::string rss_help = "Resident memory of the process by kind (anon, file incl. shmem).";
  registry->AddGauge("skeg_process_resident_memory_bytes", rss_help, {{"kind", "anon"}},
                     [] { return static_cast<double>(telemetry::ReadRss().anon); });
  registry->AddGauge("skeg_process_resident_memory_bytes", rss_help, {{"kind", "file"}},
                     [] { return static_cast<double>(telemetry::ReadRss().file); });
  registry->AddGauge("skeg_process_open_fds", "Open file descriptors of the process.", {},
                     [] { return static_cast<double>(telemetry::CountOpenFds()); });
}

namespace {

// One metric read from a field of a component's stats struct at every scrape.
template <typename Stats>
struct StatFigure {
  const char* name;
  const char* help;
  uint64_t Stats::*field;
  bool monotonic;  // exposed as a counter, else as a gauge
};

// Registers every figure as a live callback over `read_stats()` (called at scrape time).
template <typename Stats, size_t N, typename ReadStats>
void RegisterStatFigures(telemetry::Registry* registry, const StatFigure<Stats> (&figures)[N],
                         ReadStats read_stats) {
  for (const StatFigure<Stats>& f : figures) {
    auto read = [read_stats, field = f.field] { return static_cast<double>(read_stats().*field); };
    if (f.monotonic) {
      registry->AddCounterCallback(f.name, f.help, {}, read);
    } else {
      registry->AddGauge(f.name, f.help, {}, read);
    }
  }
}

}  // namespace

void RegisterStoreMetrics(telemetry::Registry* registry, const storage::Store* store) {
  SKEG_CHECK(store != nullptr);
  static constexpr StatFigure<storage::StoreStats> kFigures[] = {
      {"skeg_vlog_commit_groups_total",
       "Commit groups appended (one pwritev each; syncs are counted apart).",
       &storage::StoreStats::commit_groups, true},
      {"skeg_vlog_committed_batches_total", "Write batches committed.",
       &storage::StoreStats::committed_batches, true},
      {"skeg_vlog_syncs_total", "fsync/fdatasync calls on the value log.",
       &storage::StoreStats::syncs, true},
      {"skeg_vlog_bytes_written_total", "Bytes appended to the value log.",
       &storage::StoreStats::bytes_written, true},
      {"skeg_vlog_checkpoints_total", "Key-directory checkpoints written.",
       &storage::StoreStats::checkpoints, true},
      {"skeg_vlog_compactions_total", "Segments rewritten by compaction.",
       &storage::StoreStats::compactions, true},
      {"skeg_vlog_compaction_reclaimed_bytes_total", "Disk bytes reclaimed by compaction.",
       &storage::StoreStats::compaction_bytes_reclaimed, true},
      {"skeg_vlog_keys", "Live keys in the store.", &storage::StoreStats::keys, false},
      {"skeg_vlog_keydir_bytes", "Memory held by the key directory.",
       &storage::StoreStats::keydir_bytes, false},
      {"skeg_vlog_segments", "Value-log segment files.", &storage::StoreStats::segments, false},
      {"skeg_vlog_disk_bytes", "Bytes of all value-log segments.", &storage::StoreStats::disk_bytes,
       false},
      {"skeg_vlog_live_bytes", "Bytes of value-log records still referenced.",
       &storage::StoreStats::live_bytes, false},
      {"skeg_vlog_unsynced_acked_bytes",
       "Acknowledged value-log bytes not yet synced (relaxed tier; what a power loss could take).",
       &storage::StoreStats::unsynced_acked_bytes, false},
  };
  RegisterStatFigures(registry, kFigures, [store] { return store->stats(); });
  registry->AddCounterCallback(
      "skeg_vlog_sync_seconds_total", "Time spent in fsync/fdatasync on the value log.", {},
      [store] { return static_cast<double>(store->stats().sync_nanos) / 1e9; });
}

void RegisterCacheMetrics(telemetry::Registry* registry, const storage::PageCache* cache) {
  SKEG_CHECK(cache != nullptr);
  static constexpr StatFigure<storage::PageCache::Stats> kFigures[] = {
      {"skeg_cache_hits_total", "Page-cache lookups that found the page.",
       &storage::PageCache::Stats::hits, true},
      {"skeg_cache_misses_total", "Page-cache lookups that read from disk.",
       &storage::PageCache::Stats::misses, true},
      {"skeg_cache_inserts_total", "Pages inserted into the page cache.",
       &storage::PageCache::Stats::inserts, true},
      {"skeg_cache_evictions_total", "Pages evicted by S3-FIFO.",
       &storage::PageCache::Stats::evictions, true},
      {"skeg_cache_bytes", "Bytes charged to the page cache (pages + per-entry overhead).",
       &storage::PageCache::Stats::bytes, false},
      {"skeg_cache_capacity_bytes", "Page-cache budget (--cache-bytes).",
       &storage::PageCache::Stats::capacity_bytes, false},
      {"skeg_cache_pages", "Pages held by the page cache.", &storage::PageCache::Stats::pages,
       false},
  };
  RegisterStatFigures(registry, kFigures, [cache] { return cache->stats(); });
}

}  // namespace skeg::server
