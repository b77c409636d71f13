// MetricsEndpoint: the HTTP listener that serves the telemetry registry to Prometheus, plus the
// process-wide and value-log metrics the server registers at startup (ARCHITECTURE.md
// section 10).
//
// The endpoint answers `GET /metrics` (and HEAD) with Registry::RenderPrometheus() as
// `text/plain; version=0.0.4; charset=utf-8`; every other path is 404. It runs on its own
// accept thread plus a small worker pool, independent of the RESP/native I/O threads, so a
// scrape never queues behind client traffic. The HTTP library (cpp-httplib) may throw; all of
// that is caught inside this file and turned into a Status, and the library's header is not
// exposed to includers of this one. Side effect: cpp-httplib's server sets SIGPIPE to SIG_IGN
// process-wide when constructed (harmless for skeg, whose sockets never rely on SIGPIPE).
//
// Ownership: the endpoint does not own the Registry; the Registry (and everything its gauge
// callbacks capture) must outlive the endpoint. Destroying the endpoint stops it.
// Thread-safety: Start() may be called from any thread; Stop() and port() may be called from
// any thread, Stop() more than once. Scrapes run concurrently with metric updates.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "telemetry/metrics.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace skeg::storage {
class PageCache;
class Store;
}  // namespace skeg::storage

namespace skeg::server {

class MetricsEndpoint {
 public:
  // Binds `host`:`port` (port 0 picks a free port; see port()) and starts serving `registry`.
  // Returns once the listener accepts connections. Errors: kIOError naming the address when
  // it cannot be bound (already in use, host not resolvable, no permission) or the listener
  // thread cannot start. The socket uses SO_REUSEADDR only, never SO_REUSEPORT, so a second
  // endpoint (or process) on a port already served fails instead of silently sharing it.
  // REQUIRES: registry != nullptr and outlives the endpoint.
  [[nodiscard]] static Result<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& host, uint16_t port, telemetry::Registry* registry);

  // Stops (see Stop()).
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Closes the listener and joins its threads; a scrape in progress finishes first. Idempotent.
  void Stop();

  // The bound port (the chosen one when Start() was given 0).
  uint16_t port() const { return port_; }
  // "host:port" ("[host]:port" for IPv6 literals), for logs.
  const std::string& address() const { return address_; }

 private:
  MetricsEndpoint(std::unique_ptr<httplib::Server> http, uint16_t port, std::string address);

  std::unique_ptr<httplib::Server> http_;
  const uint16_t port_;
  const std::string address_;
  std::thread thread_;                    // runs the accept loop; joined by Stop()
  std::atomic<bool> loop_exited_{false};  // set by thread_ when the accept loop returns
  std::mutex stop_mu_;                    // serialises Stop() calls
};

// Registers live process gauges on `registry`:
//   skeg_process_resident_memory_bytes{kind="anon"|"file"}  (telemetry::ReadRss(); file
//                                                            includes shared memory)
//   skeg_process_open_fds                                   (telemetry::CountOpenFds())
// Call once per registry (a second call is a programming error, see telemetry/metrics.h).
void RegisterProcessMetrics(telemetry::Registry* registry);

// Registers live value-log metrics read from `store->stats()` at every scrape. Monotonic
// figures are counter callbacks:
//   skeg_vlog_commit_groups_total, skeg_vlog_committed_batches_total, skeg_vlog_syncs_total,
//   skeg_vlog_sync_seconds_total, skeg_vlog_bytes_written_total, skeg_vlog_checkpoints_total,
//   skeg_vlog_compactions_total, skeg_vlog_compaction_reclaimed_bytes_total
// and the rest gauges:
//   skeg_vlog_keys, skeg_vlog_keydir_bytes, skeg_vlog_segments, skeg_vlog_disk_bytes,
//   skeg_vlog_live_bytes
// REQUIRES: *store outlives every later RenderPrometheus() on `registry`: stop the
// MetricsEndpoint (and anything else that renders) before closing the Store.
// Call once per registry.
void RegisterStoreMetrics(telemetry::Registry* registry, const storage::Store* store);

// Registers live page-cache metrics: skeg_cache_{hits,misses,inserts,evictions}_total,
// skeg_cache_bytes, skeg_cache_capacity_bytes, skeg_cache_pages. `cache` must outlive every
// scrape.
void RegisterCacheMetrics(telemetry::Registry* registry, const storage::PageCache* cache);

}  // namespace skeg::server
