#include "server/command/engine.h"

#include <algorithm>

namespace skeg::server {

Engine::Engine(storage::Store* store, EngineOptions options)
    : store_(store), options_(std::move(options)) {}

Engine::~Engine() = default;

Status Engine::OpenVectors(index::CollectionOptions options) {
  options.store = store_;
  if (options.index_dir.empty()) options.index_dir = store_->data_dir() + "/indexes";
  options.write = [this](const storage::WriteBatch& batch) { return Write(batch); };
  SKEG_ASSIGN_OR_RETURN(vectors_, index::Collection::Open(options));
  return Status::Ok();
}

namespace {
thread_local uint64_t* t_ticket_sink = nullptr;
thread_local bool t_force_sync = false;
}  // namespace

ForceSyncScope::ForceSyncScope() { t_force_sync = true; }
ForceSyncScope::~ForceSyncScope() { t_force_sync = false; }
bool ForceSyncScope::Active() { return t_force_sync; }

DeferredAcks::DeferredAcks(uint64_t* max_ticket) { t_ticket_sink = max_ticket; }
DeferredAcks::~DeferredAcks() { t_ticket_sink = nullptr; }
uint64_t* DeferredAcks::Current() { return t_ticket_sink; }

Result<uint32_t> Engine::Write(const storage::WriteBatch& batch) {
  uint64_t* sink = DeferredAcks::Current();
  storage::WriteOptions wo;
  wo.force_sync = t_force_sync;
  if (sink == nullptr) return store_->Write(batch, wo);
  uint64_t ticket = 0;
  wo.durability_ticket = &ticket;
  auto r = store_->Write(batch, wo);
  if (r.ok()) *sink = std::max(*sink, ticket);
  return r;
}

Status Engine::Put(std::string_view key, std::string_view value, storage::UnixMillis expire_at) {
  storage::WriteBatch b;
  b.Put(key, value, expire_at);
  return Write(b).status();
}

Result<bool> Engine::Delete(std::string_view key) {
  storage::WriteBatch b;
  b.Delete(key);
  SKEG_ASSIGN_OR_RETURN(uint32_t n, Write(b));
  return n > 0;
}

int64_t Engine::NowMs() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t Engine::MsAt(std::chrono::steady_clock::time_point t) const {
  if (options_.clock) return options_.clock();
  return start_ms_ + std::chrono::duration_cast<std::chrono::milliseconds>(t - start_).count();
}

int64_t Engine::UptimeSeconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start_)
      .count();
}

void Engine::ResetStats() {
  stats_.commands = 0;
  stats_.errors = 0;
  stats_.rejected_connections = 0;
  stats_.keyspace_hits = 0;
  stats_.keyspace_misses = 0;
  stats_.net_input_bytes = 0;
  stats_.net_output_bytes = 0;
}

}  // namespace skeg::server
