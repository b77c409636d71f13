// Server: the process wiring of `skeg` and `skeg-resp3`.
//
// Lifecycle (ARCHITECTURE.md section 2):
//   Start()  configures logging, installs the SIGTERM/SIGINT handler, opens the Store (taking
//            the data-directory lock and running recovery, whose figures are logged), and only
//            then binds the listeners, so the first client never waits on recovery. The bound
//            addresses are written into the LOCK file next to the pid.
//   Run()    runs `--workers` I/O threads over one asio::io_context until a signal or
//            RequestShutdown(); then stops accepting, lets every connection finish the requests
//            it has read (their replies are written), closes idle connections, and closes the
//            Store (sync + checkpoint). Returns the Close status.
//
// Listener rules: a listener the user did not ask for (a default) whose port is taken logs a
// warning and stays off; an explicitly requested one (flag, config file or environment) that
// cannot bind makes Start() fail.
//
// RESP connections run through RespSession, native-protocol connections through NativeSession;
// both go parser -> Dispatcher gate -> the same command handlers.
// Threading model and read-modify-write atomicity: docs/server.md.
//
// Ownership: the Server owns the metrics Registry, the Store, the command Engine and
// Dispatcher, the io_context, the acceptors and (through shared
// pointers held by pending I/O) every connection; it outlives all of them.
// Thread-safety: Start() and Run() are called once each, in that order, from one thread.
// RequestShutdown() and listeners() may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/options.h"

namespace skeg::telemetry {
class Registry;
}

namespace skeg::server {

// The wire protocol a listener speaks.
enum class Protocol : uint8_t { kResp, kNative };

// A listener that is bound and accepting.
struct BoundListener {
  Protocol protocol;
  Endpoint endpoint;  // with the actual port when the configured one was 0
};

class Server {
 public:
  // No I/O; cannot fail.
  explicit Server(ServerOptions options);
  // Shuts down (as Run() does at its end) if Start() succeeded and Run() was not called.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens storage and binds listeners (see the file comment). Errors: whatever Store::Open
  // returns (kBusy names the process holding the directory), kIOError for an explicit
  // listener that cannot bind.
  Status Start();

  // REQUIRES: Start() returned OK. Blocks until shutdown has completed.
  Status Run();

  // Asks Run() to shut down gracefully. Thread-safe; not async-signal-safe (signals are
  // delivered through asio::signal_set instead).
  void RequestShutdown();

  // The listeners bound by Start().
  std::vector<BoundListener> listeners() const;

  // The metrics registry the server and its commands record into (owned by the Server; valid
  // for its lifetime). For the /metrics endpoint.
  telemetry::Registry* registry();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Process entry shared by main_skeg.cc and main_resp3.cc: parses the command line (prints
// --help/--version and returns 0; a bad command line prints "<binary>: error: ..." and returns
// 2), runs the server and returns 0 after a clean shutdown, 1 when startup or shutdown failed.
int ServerMain(Binary binary, int argc, char** argv);

}  // namespace skeg::server
