// Engine: the shared services every command handler works against: the Store, the striped
// key locks that make read-modify-write commands atomic, the client registry, server-wide
// options and statistics.
//
// Ownership: the Engine does not own the Store (the Server does, or a test); it owns the
// locks, the registry and the counters. It outlives every connection.
// Thread-safety: fully thread-safe (Store is; locks/registry are; counters are atomics;
// options are immutable after construction).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "index/collection/collection.h"
#include "server/command/client_registry.h"
#include "server/command/key_locks.h"
#include "storage/vlog/store.h"

namespace skeg::server {

struct EngineOptions {
  // Password of the `default` user (--requirepass); empty: no authentication.
  std::string requirepass;
  // --mode serve: write commands are refused.
  bool read_only = false;
  // Values reported by INFO / CONFIG GET.
  uint32_t max_clients = 10000;
  uint64_t maxmemory_bytes = 0;
  uint64_t max_bulk_bytes = 512ull << 20;
  uint32_t workers = 1;
  uint16_t tcp_port = 6379;
  std::string data_dir;
  std::string config_file;
  std::string binary_name = "skeg";
  std::string version = "0.1.0";
  std::string durability = "kernel";
  // Wall clock in Unix milliseconds; null: the system clock. Tests inject their own.
  std::function<int64_t()> clock;
  // The page cache shared by the value log and the vector indexes (not owned; must outlive
  // the engine), reported by INFO and the native STATS/SHARDS; null: none.
  const storage::PageCache* page_cache = nullptr;
};

// While alive on a thread, Engine writes on that thread defer their durability wait and
// raise *max_ticket to the highest ticket they produced (0: nothing written). Scopes do not
// nest. Thread-safety: thread-local by construction.
class DeferredAcks {
 public:
  explicit DeferredAcks(uint64_t* max_ticket);
  ~DeferredAcks();
  DeferredAcks(const DeferredAcks&) = delete;
  DeferredAcks& operator=(const DeferredAcks&) = delete;

  // The active scope's ticket sink on this thread, or null.
  static uint64_t* Current();
};

// While alive on a thread, Engine writes on that thread ask the Store to fsync their commit
// group even when the durability tier would not (storage::WriteOptions::force_sync): the native
// protocol's WAIT_DURABLE flag. Combines with DeferredAcks (the ticket then covers the forced
// sync). Scopes do not nest. Thread-safety: thread-local by construction.
class ForceSyncScope {
 public:
  ForceSyncScope();
  ~ForceSyncScope();
  ForceSyncScope(const ForceSyncScope&) = delete;
  ForceSyncScope& operator=(const ForceSyncScope&) = delete;

  // True while a scope is alive on this thread.
  static bool Active();
};

class Engine {
 public:
  // `store` must outlive the Engine.
  Engine(storage::Store* store, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The Store, for reads. Handlers write through Write/Put/Delete below.
  storage::Store* store() const { return store_; }

  // Writes through the Store. Inside a DeferredAcks scope (a RESP connection that pipelines
  // writes) they return as soon as the batch is applied (readers, including the rest of the
  // pipeline, see it) and record the batch's durability ticket in the scope; the connection
  // sends its replies only once that ticket is durable. Outside a scope they return once the
  // write is durable. Inside a ForceSyncScope the write's group is fsynced at every tier.
  // Errors: those of Store::Write.
  Result<uint32_t> Write(const storage::WriteBatch& batch);
  Status Put(std::string_view key, std::string_view value,
             storage::UnixMillis expire_at = storage::kNoExpiry);
  Result<bool> Delete(std::string_view key);
  KeyLocks& locks() { return locks_; }

  // Opens the vector indexes over the Store (index::Collection::Open: catalog load and index
  // rebuild, I/O proportional to the vectors stored). Their writes go through Write() above.
  // Called once, before serving (the Server at startup, the test runner at construction).
  // Errors: Collection::Open's.
  [[nodiscard]] Status OpenVectors(index::CollectionOptions options = {});
  // The vector indexes; null until OpenVectors() succeeded.
  index::Collection* vectors() const { return vectors_.get(); }

  ClientRegistry& clients() { return clients_; }
  const EngineOptions& options() const { return options_; }

  // Wall clock, Unix milliseconds (the unit of every expiry).
  int64_t NowMs() const;
  // The wall clock at steady time `t` (Unix milliseconds), derived from the steady clock, so
  // without a clock read: for bookkeeping such as CLIENT LIST's idle time, not for expiry. An
  // injected EngineOptions::clock is returned as is.
  int64_t MsAt(std::chrono::steady_clock::time_point t) const;
  // Steady seconds since the Engine was created.
  int64_t UptimeSeconds() const;

  // Statistics for INFO (monotonic; CONFIG RESETSTAT zeroes them).
  struct Stats {
    std::atomic<uint64_t> commands{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<uint64_t> rejected_connections{0};
    std::atomic<uint64_t> keyspace_hits{0};
    std::atomic<uint64_t> keyspace_misses{0};
    std::atomic<uint64_t> net_input_bytes{0};
    std::atomic<uint64_t> net_output_bytes{0};
  };
  Stats& stats() { return stats_; }
  void ResetStats();

 private:
  storage::Store* const store_;
  const EngineOptions options_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  const int64_t start_ms_ = NowMs();  // the wall clock at start_
  KeyLocks locks_;
  ClientRegistry clients_;
  std::unique_ptr<index::Collection> vectors_;
  Stats stats_;
};

}  // namespace skeg::server
