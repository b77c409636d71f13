// ServerOptions: every command-line flag of the `skeg` and `skeg-resp3` binaries
// (ARCHITECTURE.md section 2), parsed from argv, the environment and an optional TOML file.
//
// Sources, strongest first: a command-line flag, then `--config FILE` (TOML; keys are the long
// flag names without dashes, e.g. `data-dir = "/srv/skeg"`), then the environment variable
// `SKEG_<NAME>` (dashes become underscores: SKEG_DATA_DIR, SKEG_CACHE_BYTES; SKEG_CONFIG names
// the config file), then the built-in default. Unknown flags, unknown config keys and values that
// do not parse are errors; nothing is silently ignored.
//
// This is the only place that reads flags or the environment; modules receive plain option
// structs (`ToStoreOptions`). The parser is built on CLI11, whose exceptions are caught here and
// turned into Status (project code never throws).
//
// Thread-safety: ParseCommandLine reads the process environment (getenv) and is meant to be
// called once from main(); the structs are plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/vlog/store.h"

namespace skeg::server {

// Reported by --version and logged at startup.
inline constexpr std::string_view kSkegVersion = "0.1.0";

// Which binary is parsing: they share every flag except the listener ones and their defaults.
enum class Binary : uint8_t {
  kSkeg,       // native on --addr (127.0.0.1:7379), RESP on --resp-addr (127.0.0.1:6379)
  kSkegResp3,  // RESP on --addr (127.0.0.1:6379), native on --native-addr (off by default)
};

// "skeg" or "skeg-resp3".
std::string_view BinaryName(Binary binary);

// A TCP address to listen on. `host` is an IP literal (IPv6 without brackets).
struct Endpoint {
  std::string host;
  uint16_t port = 0;  // 0: any free port (the bound port is logged)

  // "host:port", with brackets around IPv6 hosts.
  std::string ToString() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Parses "host:port", "[v6]:port", ":port" or "port" (host then 127.0.0.1); "localhost" maps to
// 127.0.0.1. Errors: kInvalidArgument naming the problem.
Result<Endpoint> ParseEndpoint(std::string_view text);

// A configured listener: where it binds and whether the user asked for it. An explicit listener
// that cannot bind is a startup error; a default one only logs a warning and stays off.
struct ListenerConfig {
  bool enabled = false;
  bool is_explicit = false;  // set by flag, config file or environment
  Endpoint endpoint;
};

// Default quantizer tier (`--tier int8|tq1|tq2|tq4|pq[:M[:K]]`).
struct TierSpec {
  enum class Kind : uint8_t { kInt8, kTq1, kTq2, kTq4, kPq };
  Kind kind = Kind::kTq2;
  uint32_t pq_m = 0;    // pq only: subspaces; 0 = chosen from the dimension at index creation
  uint32_t pq_k = 256;  // pq only: centroids per subspace

  // Canonical text: "tq2", "pq", "pq:16", "pq:16:256".
  std::string ToString() const;
  friend bool operator==(const TierSpec&, const TierSpec&) = default;
};

// Parses the --tier syntax. pq:M needs 1 <= M <= 4096; pq:M:K needs 2 <= K <= 65536.
Result<TierSpec> ParseTier(std::string_view text);

// Parses a byte count: a plain integer, or an integer with a unit (case-insensitive):
// K/KiB, M/MiB, G/GiB, T/TiB are powers of 1024; KB, MB, GB, TB are powers of 1000; B is 1.
// Errors: kInvalidArgument (empty, not a number, unknown unit, overflow of 64 bits).
Result<uint64_t> ParseByteSize(std::string_view text);
// The shortest exact form: "32MiB", "1GiB", "1000".
std::string FormatByteSize(uint64_t bytes);

enum class ServerMode : uint8_t { kReadWrite, kServe };
enum class IoMode : uint8_t { kDirect, kBuffered };
enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kOff };

struct ServerOptions {
  Binary binary = Binary::kSkeg;

  std::string data_dir = "./data";
  // skeg: native protocol; skeg-resp3: RESP.
  ListenerConfig addr;
  // skeg only: RESP ("off" disables).
  ListenerConfig resp_addr;
  // skeg-resp3 only: native protocol (off unless given).
  ListenerConfig native_addr;

  storage::Durability durability = storage::Durability::kKernel;
  TierSpec tier;
  uint64_t cache_bytes = 32ull << 20;
  uint32_t workers = 1;  // the parser's default is the number of hardware threads
  ServerMode mode = ServerMode::kReadWrite;
  uint16_t metrics_port = 9379;  // 0: no metrics endpoint
  // Set by flag, config file or environment: then a port that cannot be bound is a startup
  // error; the default port only warns and stays off (like the default listeners).
  bool metrics_explicit = false;
  std::string metrics_addr = "127.0.0.1";
  std::string requirepass;  // empty: no password
  std::string auth_file;    // empty: none
  bool strict = false;      // no anonymous tenant
  uint32_t max_clients = 10000;
  LogLevel log_level = LogLevel::kInfo;
  IoMode io = IoMode::kDirect;
  uint64_t max_bulk_bytes = 512ull << 20;
  uint64_t build_memory_bytes = 0;  // 0: chosen by the index builder
  uint32_t l_search = 150;          // default list size of disk-index searches
  uint32_t beam_width = 4;          // disk-index search: records read per round (W)
  std::string config_file;          // the TOML file that was read, empty if none
  // Added to the value-log compactor thread's nice value (0..19): background compaction yields
  // the CPU to request threads and to the rest of the machine (storage::StoreOptions).
  int compaction_nice = 5;

  // The endpoint of the RESP listener and of the native one, whichever flag configures them.
  const ListenerConfig& resp_listener() const { return binary == Binary::kSkeg ? resp_addr : addr; }
  const ListenerConfig& native_listener() const {
    return binary == Binary::kSkeg ? addr : native_addr;
  }

  // A one-line summary for the startup log (never includes the password).
  std::string Summary() const;
};

// Outcome of parsing a command line.
struct ParsedCommandLine {
  ServerOptions options;
  // Non-empty when --help or --version was given: print it to stdout and exit 0 without
  // starting the server.
  std::string print_and_exit;
};

// Parses argv (argv[0] is the program name) plus the environment and the config file.
// Errors: kInvalidArgument with a message meant for the user (unknown flag, bad value, missing
// or malformed config file); main() prints "<binary>: error: <message>" and exits 2.
Result<ParsedCommandLine> ParseCommandLine(Binary binary, int argc, const char* const* argv);

// The storage options implied by the server options.
storage::StoreOptions ToStoreOptions(const ServerOptions& options);

std::string_view LogLevelName(LogLevel level);

}  // namespace skeg::server
