#include "server/command/engine.h"

namespace skeg::server {

Engine::Engine(storage::Store* store, EngineOptions options)
    : store_(store), options_(std::move(options)) {}

int64_t Engine::NowMs() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
