#include "server/options.h"

#include <sched.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/ip/address.hpp>
#include <fmt/format.h>

#include "common/ascii.h"

namespace skeg::server {
namespace {

Result<uint64_t> ParseUint(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument(fmt::format("{} '{}' is not a valid number", what, text));
  }
  if (ec != std::errc() || ptr != end) {
    return Status::InvalidArgument(fmt::format("{} '{}' is not a valid number", what, text));
  }
  return value;
}

// Wraps one of our Result-returning parsers into a CLI11 validator (the message becomes the
// CLI11 error text; the value itself is converted again after parsing).
template <typename Fn>
CLI::Validator Checked(Fn fn, std::string description) {
  return CLI::Validator(
      [fn](std::string& value) -> std::string {
        Status status = internal::ToStatus(fn(value));
        return status.ok() ? std::string() : std::string(status.message());
      },
      std::move(description));
}

// Listener flag value: an endpoint, or "off" when `allow_off`.
Status CheckListener(std::string_view value, bool allow_off) {
  if (EqualsIgnoreCase(value, "off")) {
    return allow_off ? Status::Ok() : Status::InvalidArgument("this listener cannot be 'off'");
  }
  return ParseEndpoint(value).status();
}

Result<ListenerConfig> MakeListener(const std::string& value, const CLI::Option* opt) {
  ListenerConfig listener;
  listener.is_explicit = opt->count() > 0;
  if (value.empty() || EqualsIgnoreCase(value, "off")) return listener;
  auto endpoint = ParseEndpoint(value);
  if (!endpoint) return endpoint.error().WithContext(opt->get_name());
  listener.enabled = true;
  listener.endpoint = *std::move(endpoint);
  return listener;
}

std::string EnvName(std::string_view flag) {
  std::string name = "SKEG_";
  for (char c : flag) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

// String values of the flags, bound to CLI11 options, converted after the parse.
struct RawFlags {
  std::string addr;
  std::string resp_addr;
  std::string native_addr;
  std::string durability = "kernel";
  std::string tier = "tq2";
  std::string cache_bytes;
  std::string mode = "rw";
  std::string log_level = "info";
  std::string io = "direct";
  std::string max_bulk_bytes;
  std::string build_memory_bytes;
};

template <typename Enum>
Enum LookUp(const std::vector<std::pair<std::string, Enum>>& table, const std::string& name) {
  for (const auto& [key, value] : table) {
    if (key == name) return value;
  }
  return table.front().second;  // unreachable: CLI::IsMember validated the name
}

template <typename Enum>
std::vector<std::string> Names(const std::vector<std::pair<std::string, Enum>>& table) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.push_back(entry.first);
  return names;
}

const std::vector<std::pair<std::string, storage::Durability>> kDurabilities = {
    {"relaxed", storage::Durability::kRelaxed},
    {"kernel", storage::Durability::kKernel},
    {"power-loss", storage::Durability::kPowerLoss}};
const std::vector<std::pair<std::string, ServerMode>> kModes = {{"rw", ServerMode::kReadWrite},
                                                                {"serve", ServerMode::kServe}};
const std::vector<std::pair<std::string, IoMode>> kIoModes = {{"direct", IoMode::kDirect},
                                                              {"buffered", IoMode::kBuffered}};
const std::vector<std::pair<std::string, LogLevel>> kLogLevels = {
    {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},   {"error", LogLevel::kError}, {"off", LogLevel::kOff}};

// Every option gets its SKEG_ environment variable; returns `opt` for chaining.
CLI::Option* WithEnv(CLI::Option* opt) {
  opt->envname(EnvName(opt->get_name(false, false).substr(2)));
  return opt;
}

// The CPUs this process may run on (its affinity mask: `taskset`, cpusets), which is what
// request threads can use; std::thread::hardware_concurrency() counts every CPU of the machine,
// so a server pinned to one core would run two workers that only take turns (measured: the
// redis-benchmark GET -P16 throughput of skeg-resp3 under `taskset -c 0` rose ~8% with one
// worker, and its dip right after a SET burst went away).
uint32_t DefaultWorkers() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<uint32_t>(n);
  }
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// Builds the CLI11 parser over `out` and `raw`. Returns the options whose `count()` tells
// whether a listener was given explicitly.
struct ListenerOptions {
  const CLI::Option* metrics_port = nullptr;
  CLI::Option* addr = nullptr;
  CLI::Option* resp_addr = nullptr;
  CLI::Option* native_addr = nullptr;
};

ListenerOptions DefineFlags(CLI::App& app, Binary binary, ServerOptions& out, RawFlags& raw) {
  const bool skeg = binary == Binary::kSkeg;
  ListenerOptions listeners;
  auto endpoint = Checked([](const std::string& v) { return CheckListener(v, false); }, "");
  auto endpoint_or_off = Checked([](const std::string& v) { return CheckListener(v, true); }, "");
  auto byte_size = Checked([](const std::string& v) { return ParseByteSize(v); }, "");

  raw.addr = skeg ? "127.0.0.1:7379" : "127.0.0.1:6379";
  listeners.addr =
      WithEnv(app.add_option("--addr", raw.addr,
                             skeg ? "Native protocol listener" : "RESP listener (Redis protocol)")
                  ->type_name("HOST:PORT")
                  ->capture_default_str()
                  ->check(endpoint));
  if (skeg) {
    raw.resp_addr = "127.0.0.1:6379";
    listeners.resp_addr =
        WithEnv(app.add_option("--resp-addr", raw.resp_addr, "RESP listener; 'off' disables it")
                    ->type_name("HOST:PORT|off")
                    ->capture_default_str()
                    ->check(endpoint_or_off));
  } else {
    raw.native_addr = "off";
    listeners.native_addr = WithEnv(app.add_option("--native-addr", raw.native_addr,
                                                   "Native protocol listener (off unless given)")
                                        ->type_name("HOST:PORT|off")
                                        ->capture_default_str()
                                        ->check(endpoint_or_off));
  }

  WithEnv(app.add_option("--data-dir", out.data_dir, "Data directory (one process owns it)")
              ->type_name("DIR")
              ->capture_default_str());
  WithEnv(app.add_option("--durability", raw.durability,
                         "What an acknowledged write survives: relaxed = a process crash "
                         "(acknowledged once written, fdatasync every 10 ms), kernel = fsync per "
                         "commit group, power-loss = fsync + O_DSYNC")
              ->type_name("TIER")
              ->capture_default_str()
              ->check(CLI::IsMember(Names(kDurabilities))));
  WithEnv(app.add_option("--tier", raw.tier,
                         "Default quantizer of disk indexes created with kind f32 and of serve "
                         "mode: int8|tq1|tq2|tq4|pq[:M[:K]]")
              ->type_name("QUANTIZER")
              ->capture_default_str()
              ->check(Checked([](const std::string& v) { return ParseTier(v); }, "")));
  raw.cache_bytes = FormatByteSize(out.cache_bytes);
  WithEnv(app.add_option("--cache-bytes", raw.cache_bytes,
                         "Byte budget of the page cache (units K/KiB M/MiB G/GiB = 1024^n, "
                         "KB/MB/GB = 1000^n)")
              ->type_name("BYTES")
              ->capture_default_str()
              ->check(byte_size));
  out.workers = DefaultWorkers();
  WithEnv(app.add_option("--workers", out.workers,
                         "Request threads (default: the CPUs this process may run on)")
              ->type_name("N")
              ->capture_default_str()
              ->check(CLI::Range(1u, 4096u)));
  WithEnv(app.add_option("--mode", raw.mode, "rw = read-write, serve = read-only serving")
              ->type_name("MODE")
              ->capture_default_str()
              ->check(CLI::IsMember(Names(kModes))));
  listeners.metrics_port = WithEnv(
      app.add_option("--metrics-port", out.metrics_port, "Prometheus /metrics port (0 = off)")
          ->type_name("PORT")
          ->capture_default_str());
  WithEnv(app.add_option("--metrics-addr", out.metrics_addr, "Address of the metrics endpoint")
              ->type_name("IP")
              ->capture_default_str()
              ->check(Checked(
                  [](const std::string& v) {
                    std::error_code ec;
                    asio::ip::make_address(v == "localhost" ? "127.0.0.1" : v, ec);
                    return ec ? Status::InvalidArgument(fmt::format("'{}' is not an IP address", v))
                              : Status::Ok();
                  },
                  "")));
  WithEnv(app.add_option("--requirepass", out.requirepass,
                         "Redis-style password of the default user (empty = none)")
              ->type_name("PASSWORD"));
  WithEnv(app.add_option("--auth-file", out.auth_file, "File of users to load at startup")
              ->type_name("FILE"));
  WithEnv(app.add_flag("--strict", out.strict, "No anonymous access (tenant 0 disabled)")
              ->capture_default_str());
  WithEnv(app.add_option("--max-clients", out.max_clients, "Maximum concurrent connections")
              ->type_name("N")
              ->capture_default_str()
              ->check(CLI::Range(1u, 1000000u)));
  WithEnv(app.add_option("--log-level", raw.log_level, "Log verbosity")
              ->type_name("LEVEL")
              ->capture_default_str()
              ->check(CLI::IsMember(Names(kLogLevels))));
  WithEnv(app.add_option("--io", raw.io,
                         "Value and index reads: direct (O_DIRECT where the file system "
                         "supports it) or buffered")
              ->type_name("MODE")
              ->capture_default_str()
              ->check(CLI::IsMember(Names(kIoModes))));
  raw.max_bulk_bytes = FormatByteSize(out.max_bulk_bytes);
  WithEnv(app.add_option("--max-bulk-bytes", raw.max_bulk_bytes,
                         "Largest bulk string / payload accepted from a client")
              ->type_name("BYTES")
              ->capture_default_str()
              ->check(byte_size));
  WithEnv(app.add_option("--l-search", out.l_search,
                         "Default beam-search list size of disk indexes (VSEARCH l_search 0)")
              ->type_name("N")
              ->capture_default_str()
              ->check(CLI::Range(1u, 65536u)));
  WithEnv(app.add_option("--beam-width", out.beam_width,
                         "Records a disk-index search reads per round (beam width W)")
              ->type_name("W")
              ->capture_default_str()
              ->check(CLI::Range(1u, 64u)));
  WithEnv(app.add_option("--compaction-nice", out.compaction_nice,
                         "Nice increment of the value-log compactor thread (0 = the server's "
                         "CPU priority)")
              ->type_name("N")
              ->capture_default_str()
              ->check(CLI::Range(0, 19)));
  raw.build_memory_bytes = FormatByteSize(out.build_memory_bytes);
  WithEnv(app.add_option("--build-memory-bytes", raw.build_memory_bytes,
                         "Memory budget of index builds (0 = chosen by the builder)")
              ->type_name("BYTES")
              ->capture_default_str()
              ->check(byte_size));
  return listeners;
}

// Converts the validated strings of `raw` into `out`.
Status Finish(const RawFlags& raw, const ListenerOptions& listeners, ServerOptions& out) {
  SKEG_ASSIGN_OR_RETURN(out.addr, MakeListener(raw.addr, listeners.addr));
  if (listeners.resp_addr != nullptr) {
    SKEG_ASSIGN_OR_RETURN(out.resp_addr, MakeListener(raw.resp_addr, listeners.resp_addr));
  }
  if (listeners.native_addr != nullptr) {
    SKEG_ASSIGN_OR_RETURN(out.native_addr, MakeListener(raw.native_addr, listeners.native_addr));
  }
  out.metrics_explicit = listeners.metrics_port != nullptr && listeners.metrics_port->count() > 0;
  out.durability = LookUp(kDurabilities, raw.durability);
  SKEG_ASSIGN_OR_RETURN(out.tier, ParseTier(raw.tier));
  SKEG_ASSIGN_OR_RETURN(out.cache_bytes, ParseByteSize(raw.cache_bytes));
  out.mode = LookUp(kModes, raw.mode);
  out.log_level = LookUp(kLogLevels, raw.log_level);
  out.io = LookUp(kIoModes, raw.io);
  SKEG_ASSIGN_OR_RETURN(out.max_bulk_bytes, ParseByteSize(raw.max_bulk_bytes));
  SKEG_ASSIGN_OR_RETURN(out.build_memory_bytes, ParseByteSize(raw.build_memory_bytes));
  if (out.data_dir.empty()) return Status::InvalidArgument("--data-dir must not be empty");
  if (out.max_bulk_bytes == 0) return Status::InvalidArgument("--max-bulk-bytes must be > 0");
  return Status::Ok();
}

}  // namespace

std::string_view BinaryName(Binary binary) {
  return binary == Binary::kSkeg ? "skeg" : "skeg-resp3";
}

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument(
          fmt::format("'{}' is not an address: expected [IPv6]:PORT", text));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      port_text = text;
    } else {
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) {
        return Status::InvalidArgument(
            fmt::format("'{}' is not an address: write IPv6 hosts as [HOST]:PORT", text));
      }
    }
  }
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  auto port = ParseUint(port_text, "port");
  if (!port || *port > 65535) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not an address: expected HOST:PORT with a port in 0..65535", text));
  }
  std::error_code ec;
  asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not an address: '{}' is not an IP address", text, host));
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(*port)};
}

std::string TierSpec::ToString() const {
  switch (kind) {
    case Kind::kInt8:
      return "int8";
    case Kind::kTq1:
      return "tq1";
    case Kind::kTq2:
      return "tq2";
    case Kind::kTq4:
      return "tq4";
    case Kind::kPq:
      break;
  }
  if (pq_m == 0) return "pq";
  if (pq_k == 256) return fmt::format("pq:{}", pq_m);
  return fmt::format("pq:{}:{}", pq_m, pq_k);
}

Result<TierSpec> ParseTier(std::string_view text) {
  static constexpr std::pair<std::string_view, TierSpec::Kind> kSimple[] = {
      {"int8", TierSpec::Kind::kInt8},
      {"tq1", TierSpec::Kind::kTq1},
      {"tq2", TierSpec::Kind::kTq2},
      {"tq4", TierSpec::Kind::kTq4}};
  for (const auto& [name, kind] : kSimple) {
    if (text == name) return TierSpec{kind, 0, 256};
  }
  const auto bad = [text](std::string_view why) {
    return Status::InvalidArgument(
        fmt::format("tier '{}' is invalid: {} (expected int8|tq1|tq2|tq4|pq[:M[:K]])", text, why));
  };
  if (text.substr(0, 2) != "pq") return bad("unknown tier");
  TierSpec spec{TierSpec::Kind::kPq, 0, 256};
  std::string_view rest = text.substr(2);
  if (rest.empty()) return spec;
  if (rest.front() != ':') return bad("unknown tier");
  rest.remove_prefix(1);
  size_t colon = rest.find(':');
  auto m = ParseUint(rest.substr(0, colon), "M");
  if (!m || *m < 1 || *m > 4096) return bad("M must be an integer in 1..4096");
  spec.pq_m = static_cast<uint32_t>(*m);
  if (colon != std::string_view::npos) {
    auto k = ParseUint(rest.substr(colon + 1), "K");
    if (!k || *k < 2 || *k > 65536) return bad("K must be an integer in 2..65536");
    spec.pq_k = static_cast<uint32_t>(*k);
  }
  return spec;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"b", 1},
      {"k", 1ull << 10},
      {"kib", 1ull << 10},
      {"kb", 1000ull},
      {"m", 1ull << 20},
      {"mib", 1ull << 20},
      {"mb", 1000ull * 1000},
      {"g", 1ull << 30},
      {"gib", 1ull << 30},
      {"gb", 1000ull * 1000 * 1000},
      {"t", 1ull << 40},
      {"tib", 1ull << 40},
      {"tb", 1000ull * 1000 * 1000 * 1000},
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (digits == 0) {
    return Status::InvalidArgument(fmt::format(
        "'{}' is not a byte size: expected an integer with an optional unit (e.g. 64MiB)", text));
  }
  auto number = ParseUint(text.substr(0, digits), "size");
  if (!number) {
    return Status::InvalidArgument(fmt::format("'{}' is not a byte size: too large", text));
  }
  for (const Unit& u : kUnits) {
    if (!EqualsIgnoreCase(unit, u.name)) continue;
    if (*number > std::numeric_limits<uint64_t>::max() / u.factor) {
      return Status::InvalidArgument(fmt::format("'{}' is not a byte size: too large", text));
    }
    return *number * u.factor;
  }
  return Status::InvalidArgument(
      fmt::format("'{}' is not a byte size: unknown unit '{}' (use K, KiB, KB, M, MiB, MB, G, "
                  "GiB, GB, T, TiB, TB)",
                  text, unit));
}

std::string FormatByteSize(uint64_t bytes) {
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  if (bytes == 0) return "0";
  for (const auto& [name, shift] : kUnits) {
    const uint64_t unit = 1ull << shift;
    if (bytes % unit == 0) return fmt::format("{}{}", bytes / unit, name);
  }
  return fmt::format("{}", bytes);
}

std::string_view LogLevelName(LogLevel level) {
  for (const auto& [name, value] : kLogLevels) {
    if (value == level) return name;
  }
  return "info";
}

std::string ServerOptions::Summary() const {
  const auto listener = [](const ListenerConfig& l) {
    return l.enabled ? l.endpoint.ToString() + (l.is_explicit ? "" : " (default)")
                     : std::string("off");
  };
  return fmt::format(
      "data_dir={} resp={} native={} durability={} tier={} cache_bytes={} workers={} mode={} "
      "metrics={} io={} max_clients={} max_bulk_bytes={} log_level={} auth={}{}",
      data_dir, listener(resp_listener()), listener(native_listener()),
      [this] {
        for (const auto& [n, d] : kDurabilities) {
          if (d == durability) return n;
        }
        return std::string();
      }(),
      tier.ToString(), FormatByteSize(cache_bytes), workers,
      mode == ServerMode::kServe ? "serve" : "rw",
      metrics_port == 0 ? std::string("off") : fmt::format("{}:{}", metrics_addr, metrics_port),
      io == IoMode::kDirect ? "direct" : "buffered", max_clients, FormatByteSize(max_bulk_bytes),
      LogLevelName(log_level), requirepass.empty() ? "none" : "password", strict ? " strict" : "");
}

Result<ParsedCommandLine> ParseCommandLine(Binary binary, int argc, const char* const* argv) {
  ParsedCommandLine parsed;
  ServerOptions& out = parsed.options;
  out.binary = binary;
  RawFlags raw;
  const std::string name(BinaryName(binary));

  CLI::App app(binary == Binary::kSkeg
                   ? "skeg: vector database and key-value server (native protocol + RESP)"
                   : "skeg-resp3: vector database and key-value server (RESP + optional native)",
               name);
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.get_formatter()->column_width(34);
  if (binary == Binary::kSkeg) {
    app.footer(
        "Offline index builds: `skeg build --help` (builds a disk vector index from a .npy, "
        ".fvecs or .bvecs file into a data directory; serve it with --mode serve).");
  }
  ListenerOptions listeners = DefineFlags(app, binary, out, raw);

  // CLI11 reads the config file before the environment, so SKEG_CONFIG becomes the default
  // value of --config (a missing file named there is an error, checked below).
  const char* env_config = std::getenv("SKEG_CONFIG");
  CLI::Option* config = app.set_config(
      "--config", "", "TOML file of flag values (keys are flag names without dashes)");
  config->envname("SKEG_CONFIG");
  config->check(CLI::ExistingFile);
  app.set_version_flag("--version", fmt::format("{} {}", name, kSkegVersion));

  try {
    if (env_config != nullptr && env_config[0] != '\0') {
      // Only when --config is absent from argv: then the env value is the file to read.
      bool on_command_line = false;
      for (int i = 1; i < argc; ++i) {
        std::string_view arg(argv[i]);
        if (arg == "--config" || arg.substr(0, 9) == "--config=") on_command_line = true;
      }
      if (!on_command_line) {
        if (CLI::detail::check_path(env_config) != CLI::detail::path_type::file) {
          return Status::InvalidArgument(
              fmt::format("SKEG_CONFIG: config file '{}' does not exist", env_config));
        }
        config->default_str(env_config);
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    parsed.print_and_exit = app.help();
    return parsed;
  } catch (const CLI::CallForVersion& e) {
    parsed.print_and_exit = std::string(e.what()) + "\n";
    return parsed;
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  } catch (const std::exception& e) {
    return Status::InvalidArgument(e.what());
  }
  if (config->count() > 0) out.config_file = config->as<std::string>();
  SKEG_RETURN_IF_ERROR(Finish(raw, listeners, out));
  return parsed;
}

storage::StoreOptions ToStoreOptions(const ServerOptions& options) {
  storage::StoreOptions store;
  store.data_dir = options.data_dir;
  store.durability = options.durability;
  store.create_if_missing = options.mode == ServerMode::kReadWrite;
  store.compaction_nice = options.compaction_nice;
  return store;
}

}  // namespace skeg::server
