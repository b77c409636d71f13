// RespSession: the protocol state of one RESP connection, independent of sockets.
//
// It owns the connection's RespParser, ConnectionContext and RespReplyBuilder. The network
// layer (server.cc's Connection) appends received bytes to an input buffer and calls
// Process(); the session parses every complete request, runs it through the Dispatcher (the
// gate and the handlers) and appends the replies, in order, to the output buffer. The same
// class drives the in-process CommandRunner used by the tests, so tests exercise the exact
// parse -> gate -> handler -> encode path clients do.
//
// Pipelining and back-pressure: Process() stops after the output passes
// `yield_output_bytes` (kYield) so the caller writes before parsing more; a client that
// pipelines faster than it reads is therefore limited by TCP, not by our memory. A single reply
// that pushes the output past `output_limit_bytes` (e.g. KEYS * on a huge keyspace) ends the
// connection (kAbort), like Redis's client-output-buffer-limit.
//
// Thread-safety: none; one session per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/request.h"
#include "protocol/resp/resp_parser.h"
#include "protocol/resp/resp_writer.h"
#include "server/command/command.h"
#include "server/command/dispatcher.h"

namespace skeg::server {

struct SessionOptions {
  protocol::resp::ParserOptions parser;
  // Pending output beyond which the connection is dropped.
  size_t output_limit_bytes = size_t{1} << 30;
  // Pending output after which Process() returns kYield.
  size_t yield_output_bytes = size_t{64} << 10;
  // Let writes return once applied and collect their durability ticket (TakeDurabilityTicket)
  // instead of waiting for each write's sync: the caller must not send the output before the
  // ticket is durable. Off: every write waits for its own sync (the in-process test runner).
  bool defer_durability = false;
};

class RespSession {
 public:
  // Registers a client with `dispatcher` (which must outlive the session).
  RespSession(Dispatcher* dispatcher, std::string addr, std::string laddr,
              const SessionOptions& options);
  // Unregisters the client.
  ~RespSession();
  RespSession(const RespSession&) = delete;
  RespSession& operator=(const RespSession&) = delete;

  enum class Outcome {
    kNeedInput,  // every complete request was handled; read more
    kYield,      // output is large: write it, then call Process() again before reading
    kClose,      // write the output, then close (QUIT, protocol error, CLIENT KILL of self)
    kAbort,      // close at once without writing (output buffer limit exceeded)
  };

  // Handles requests at the front of `*input` (consumed bytes are erased) and appends their
  // replies to `*output`.
  Outcome Process(std::string* input, std::string* output);

  // After kNeedInput: the size `*input` must reach before progress is possible (lets the
  // caller reserve a large bulk string once).
  size_t RequiredInputBytes() const { return parser_.RequiredInputBytes(); }

  ConnectionContext& conn() { return *conn_; }

  // With defer_durability: the highest durability ticket of the writes behind the output
  // produced since the last call (0: none), then resets it. Pass it to Store::OnDurable and
  // write the output only once it is durable.
  uint64_t TakeDurabilityTicket() { return std::exchange(durability_ticket_, 0); }

 private:
  Dispatcher* const dispatcher_;
  const SessionOptions options_;
  protocol::resp::RespParser parser_;
  protocol::Request request_;
  std::string scratch_;  // never written; the builder is pointed at the caller's output
  protocol::resp::RespReplyBuilder builder_{&scratch_};
  // Pipelining: before the request at `offset` of `input` (parsed into request_, `consumed`
  // bytes) runs, prefetches the keys of it and of the complete requests behind it, up to
  // Store::kMaxPrefetchKeys keys (Store::PrefetchKeys: their misses overlap rather than
  // stall each request in turn). Returns the offset where that window of requests ends.
  size_t PrefetchWindow(std::string_view input, size_t offset, size_t consumed);

  std::unique_ptr<ConnectionContext> conn_;
  uint64_t durability_ticket_ = 0;
};

}  // namespace skeg::server
