// Dispatcher: the single gate in front of every command handler (ARCHITECTURE.md section 7,
// STYLE.md item 33), shared by every connection of the server.
//
// Dispatch() runs, in Redis 7's order:
//   1. lookup (case-insensitive) -> "ERR unknown command '...', with args beginning with: ..."
//      and for containers the subcommand -> "ERR unknown subcommand '...'. Try CLIENT HELP."
//   2. arity                     -> "ERR wrong number of arguments for 'get' command"
//   3. authentication            -> "NOAUTH Authentication required." unless the command is
//                                   flagged no_auth (AUTH, HELLO, QUIT, RESET)
//   4. read-only mode (--mode serve) for write commands -> "READONLY ..."
//   5. the admission hook (tenant scope, quotas, memory; set_admission), then the handler.
// It also counts every call and error and observes latency, per command, into the telemetry
// registry (skeg_commands_total, skeg_command_errors_total, skeg_command_duration_seconds).
//
// Handlers block on the Store (a write waits for its group commit), so Dispatch() blocks the
// calling thread for that long; see docs/server.md for why that is acceptable.
//
// Thread-safety: Dispatch() may be called concurrently from any number of threads, each with
// its own ConnectionContext and ReplyBuilder.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/reply_builder.h"
#include "protocol/request.h"
#include "server/command/command.h"
#include "server/command/engine.h"

namespace skeg::telemetry {
class Registry;
class Counter;
class Histogram;
}  // namespace skeg::telemetry

namespace skeg::server {

class Dispatcher {
 public:
  // Extra admission check run after the built-in gate: return a non-OK status (its text is the
  // reply) to refuse the command. Must be thread-safe.
  using Admission = std::function<Status(const CommandSpec&, const ConnectionContext&)>;

  // `engine` must outlive the dispatcher; `registry` may be null (no metrics).
  Dispatcher(Engine* engine, telemetry::Registry* registry);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Runs one request (REQUIRES: !request.empty()) and writes exactly one reply to `rb`.
  void Dispatch(const protocol::Request& request, ConnectionContext* conn,
                protocol::ReplyBuilder* rb);
  // The same for a caller that already knows the command (the native protocol, whose opcode
  // names it): no name lookup. REQUIRES: `spec` is a top-level entry of the command table and
  // request.args()[0] is its name.
  void Dispatch(const CommandSpec& spec, const protocol::Request& request, ConnectionContext* conn,
                protocol::ReplyBuilder* rb);

  // Creates the context of a new connection (registers a client handle).
  std::unique_ptr<ConnectionContext> OpenConnection(std::string addr, std::string laddr);
  // Unregisters it. The context may be destroyed afterwards.
  void CloseConnection(ConnectionContext* conn);

  // REQUIRES: called before any Dispatch().
  void set_admission(Admission admission) { admission_ = std::move(admission); }

  Engine* engine() const { return engine_; }

 private:
  struct CommandMetrics {
    telemetry::Counter* calls = nullptr;
    telemetry::Counter* errors = nullptr;
    telemetry::Histogram* latency = nullptr;
  };
  // The gate, the handler and the metrics of one request; `spec` null = unknown command.
  void Run(const CommandSpec* spec, const protocol::Request& request, ConnectionContext* conn,
           protocol::ReplyBuilder* rb);
  // Returns the metrics of `spec` (a command or subcommand of the table; null = unknown
  // command), or null without a registry.
  const CommandMetrics* MetricsFor(const CommandSpec* spec) const;

  Engine* const engine_;
  telemetry::Registry* const registry_;
  Admission admission_;
  // Built once in the constructor, read-only afterwards (so lock-free).
  std::unordered_map<const CommandSpec*, CommandMetrics> metrics_;
};

}  // namespace skeg::server
