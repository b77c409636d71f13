#include "server/command/dispatcher.h"

#include <chrono>

#include "protocol/errors.h"
#include "protocol/resp/resp_writer.h"
#include "server/command/arg_parse.h"
#include "telemetry/metrics.h"

namespace skeg::server {
namespace {

// Forwards every value to the connection's builder and remembers whether the reply was an
// error (for the error counters).
class ErrorTrackingBuilder final : public protocol::ReplyBuilder {
 public:
  explicit ErrorTrackingBuilder(protocol::ReplyBuilder* inner) : inner_(inner) {}
  bool error() const { return error_; }

  void SimpleString(std::string_view t) override { inner_->SimpleString(t); }
  void Integer(int64_t v) override { inner_->Integer(v); }
  void Bulk(std::string_view v) override { inner_->Bulk(v); }
  void Null() override { inner_->Null(); }
  void NullArray() override { inner_->NullArray(); }
  void Double(double v) override { inner_->Double(v); }
  void Bool(bool v) override { inner_->Bool(v); }
  void ArrayStart(size_t n) override { inner_->ArrayStart(n); }
  void MapStart(size_t n) override { inner_->MapStart(n); }
  void SetStart(size_t n) override { inner_->SetStart(n); }
  void PushStart(size_t n) override { inner_->PushStart(n); }
  void Verbatim(std::string_view t, std::string_view f) override { inner_->Verbatim(t, f); }
  void BigNumber(std::string_view d) override { inner_->BigNumber(d); }

 protected:
  void WriteError(std::string_view text) override {
    error_ = true;
    inner_->Error(text);
  }
  // Forwards the Status itself, so a builder that maps status codes (native) sees it.
  void WriteStatusError(const Status& status) override {
    error_ = true;
    inner_->Error(status);
  }

 private:
  protocol::ReplyBuilder* inner_;
  bool error_ = false;
};

bool ArityOk(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

}  // namespace

void ConnectionContext::SetProtocol(int version) {
  resp = version;
  if (resp_builder != nullptr) {
    resp_builder->set_version(version == 3 ? protocol::resp::RespVersion::kResp3
                                           : protocol::resp::RespVersion::kResp2);
  }
}

Dispatcher::Dispatcher(Engine* engine, telemetry::Registry* registry)
    : engine_(engine), registry_(registry) {
  if (registry_ == nullptr) return;
  const auto add = [this](const CommandSpec* spec, const std::string& name) {
    const telemetry::Labels labels = {{"cmd", name}};
    metrics_[spec] = CommandMetrics{
        registry_->GetCounter("skeg_commands_total", "Commands executed, by command.", labels),
        registry_->GetCounter("skeg_command_errors_total",
                              "Commands answered with an error, by command.", labels),
        registry_->GetHistogram("skeg_command_duration_seconds",
                                "Command execution time in seconds, by command.", labels)};
  };
  for (const CommandSpec& spec : AllCommands()) {
    add(&spec, std::string(spec.name));
    for (const CommandSpec& sub : spec.subcommands) add(&sub, FullName(sub, &spec));
  }
  add(nullptr, "unknown");
}

Dispatcher::~Dispatcher() = default;

const Dispatcher::CommandMetrics* Dispatcher::MetricsFor(const CommandSpec* spec) const {
  if (registry_ == nullptr) return nullptr;
  auto it = metrics_.find(spec);
  return it == metrics_.end() ? nullptr : &it->second;
}

std::unique_ptr<ConnectionContext> Dispatcher::OpenConnection(std::string addr, std::string laddr) {
  auto conn = std::make_unique<ConnectionContext>();
  conn->authenticated = engine_->options().requirepass.empty();
  conn->client = engine_->clients().Add(std::move(addr), std::move(laddr), engine_->NowMs());
  return conn;
}

void Dispatcher::CloseConnection(ConnectionContext* conn) {
  if (conn->client) {
    conn->client->set_killer(nullptr);
    engine_->clients().Remove(conn->client->id());
  }
}

void Dispatcher::Dispatch(const protocol::Request& request, ConnectionContext* conn,
                          protocol::ReplyBuilder* rb) {
  Run(FindCommand(request.args()[0]), request, conn, rb);
}

void Dispatcher::Dispatch(const CommandSpec& spec, const protocol::Request& request,
                          ConnectionContext* conn, protocol::ReplyBuilder* rb) {
  Run(&spec, request, conn, rb);
}

void Dispatcher::Run(const CommandSpec* spec, const protocol::Request& request,
                     ConnectionContext* conn, protocol::ReplyBuilder* rb) {
  const auto begin = conn->clock_mark ? *conn->clock_mark : std::chrono::steady_clock::now();
  std::span<const std::string_view> args = request.args();
  ErrorTrackingBuilder tracker(rb);
  Engine::Stats& stats = engine_->stats();
  stats.commands.fetch_add(1, std::memory_order_relaxed);

  const CommandSpec* parent = nullptr;
  // The metrics are keyed by the spec (a subcommand has its own); null = unknown command.
  const CommandSpec* counted = spec;
  if (spec == nullptr) {
    tracker.Error(UnknownCommandError(args[0], args.data() + 1, args.size() - 1));
  } else if (!spec->subcommands.empty() && args.size() >= 2 &&
             FindSubcommand(*spec, args[1]) == nullptr) {
    std::string text = "ERR unknown subcommand '";
    text.append(args[1].substr(0, 128));
    text += "'. Try " + AsciiUpper(args[0]) + " HELP.";
    tracker.Error(text);
  } else {
    if (!spec->subcommands.empty() && args.size() >= 2) {
      parent = spec;
      spec = FindSubcommand(*parent, args[1]);
      counted = spec;
    }
    const std::string_view full_name = parent != nullptr ? CommandFullName(*spec) : spec->name;
    if (conn->client) conn->client->Touch(spec, engine_->MsAt(begin), conn->resp);
    const uint32_t flags = spec->flags | (parent ? parent->flags & kCmdNoAuth : 0);
    if (!ArityOk(spec->arity, args.size()) || spec->handler == nullptr) {
      tracker.Error("ERR wrong number of arguments for '" + std::string(full_name) + "' command");
    } else if (!conn->authenticated && (flags & kCmdNoAuth) == 0) {
      tracker.Error(protocol::errors::kNoAuth);
    } else if (engine_->options().read_only && (flags & kCmdWrite) != 0) {
      tracker.Error("READONLY You can't write against a read only server (--mode serve).");
    } else if (Status admitted = admission_ ? admission_(*spec, *conn) : Status::Ok();
               !admitted.ok()) {
      tracker.Error(admitted);
    } else {
      CommandContext cx{args, &tracker, conn, engine_, spec, parent};
      spec->handler(cx);
    }
  }
  if (tracker.error()) stats.errors.fetch_add(1, std::memory_order_relaxed);
  const auto end = std::chrono::steady_clock::now();
  conn->clock_mark = end;
  if (const CommandMetrics* m = MetricsFor(counted)) {
    m->calls->Inc();
    if (tracker.error()) m->errors->Inc();
    m->latency->Observe(std::chrono::duration<double>(end - begin).count());
  }
}

}  // namespace skeg::server
