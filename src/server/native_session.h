// NativeSession: the protocol state of one native-protocol (v1) connection, independent of
// sockets. The native counterpart of RespSession (resp_session.h), with the same buffer
// contract, outcomes and durability deferral, so server.cc drives both the same way.
//
// It owns the connection's FrameParser, ConnectionContext and the native reply encoder. The
// network layer appends received bytes to an input buffer and calls Process(); the session
// splits complete frames, decodes each request (protocol/native/messages.h), maps it to the
// equivalent command of the one command table and runs it through the Dispatcher, so the gate
// (authentication, read-only mode, admission), the handlers and the per-command metrics are
// exactly those of RESP. The handler's protocol-neutral reply is adapted to the op's Ok payload
// (docs/server.md, "Native protocol", has the op -> command table):
//
//   GET -> GET k                 SET -> SET k v [NX|XX]     DEL -> DEL k
//   MGET -> MGET k...            MSET -> MSET k v ... (one WriteBatch: atomic on disk)
//   EXISTS -> EXISTS k           MEXISTS -> EXISTS k...     PING -> PING
//   AUTH -> AUTH user password   STATS, SHARDS -> DBSIZE (one shard; no page cache yet)
//   VINDEX_CREATE -> SKEG.VINDEX.CREATE name dim kind backend   VINDEX_DROP -> SKEG.VINDEX.DROP
//   VSET -> SKEG.VSET name id vec   VGET -> SKEG.VGET name id   VDEL -> SKEG.VDEL name id
//   VSEARCH -> SKEG.VSEARCH name k l_search vec   VINDEX_LIST -> SKEG.VINDEX.LIST (its text
//   lines re-encoded as the op's binary listing)
//   FLUSH (sync barrier: Store::Sync) and WHOAMI are served by the session itself, after the
//   same authentication check.
//
// Errors: a broken frame header (bad magic/version, unknown op or flag bit, payload over
// 16 MiB) ends the connection without a reply (kClose after the replies already produced);
// everything else (a payload that does not parse, a reserved flag bit, a failed command) is an
// Err frame and the connection stays usable. A failed handler's Status maps to the native code
// through protocol::NativeErrorFor; text errors from the gate map by their RESP prefix
// (NOAUTH/WRONGPASS/NOPERM -> Unauthorized, READONLY -> ReadOnly, OOM -> QuotaExceeded, BUSY ->
// Internal, others -> InvalidRequest).
//
// Flags: NO_REPLY drops the Ok frame of SET/MSET/DEL/VSET/VDEL (errors are still sent);
// WAIT_DURABLE runs the request in a ForceSyncScope (its commit group is fsynced at every
// tier); COMPRESSED_LZ4 payloads are decompressed by the codec.
//
// Pipelining and back-pressure: as RespSession (yield after `yield_output_bytes` of pending
// output, abort past `output_limit_bytes`). Requests are answered in the order received.
//
// Thread-safety: none; one session per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "common/status.h"
#include "protocol/native/native.h"
#include "protocol/request.h"
#include "server/command/command.h"
#include "server/command/dispatcher.h"
#include "server/resp_session.h"

namespace skeg::server {

struct NativeSessionOptions {
  protocol::native::ParserOptions parser;
  // Pending output beyond which the connection is dropped.
  size_t output_limit_bytes = size_t{1} << 30;
  // Pending output after which Process() returns kYield.
  size_t yield_output_bytes = size_t{64} << 10;
  // As SessionOptions::defer_durability: writes return once applied and their durability
  // ticket is collected (TakeDurabilityTicket); the caller sends the output only once durable.
  bool defer_durability = false;
};

class NativeReplyBuilder;

class NativeSession {
 public:
  // The same outcomes as RespSession, so the connection handles both alike.
  using Outcome = RespSession::Outcome;

  // Registers a client with `dispatcher` (which must outlive the session).
  NativeSession(Dispatcher* dispatcher, std::string addr, std::string laddr,
                const NativeSessionOptions& options);
  // Unregisters the client.
  ~NativeSession();
  NativeSession(const NativeSession&) = delete;
  NativeSession& operator=(const NativeSession&) = delete;

  // Handles the complete frames at the front of `*input` (consumed bytes are erased) and
  // appends their response frames to `*output`. kClose: a broken header (close_reason() says
  // why) or a command that closes the connection; write the output, then close.
  Outcome Process(std::string* input, std::string* output);

  // After kNeedInput: the size `*input` must reach before progress is possible.
  size_t RequiredInputBytes() const { return parser_.RequiredInputBytes(); }

  ConnectionContext& conn() { return *conn_; }

  // After a kClose for a broken header: the parser's error (kCorruption). OK otherwise.
  const Status& close_reason() const { return parser_.error(); }

  // With defer_durability: the highest durability ticket of the writes handled since the last
  // call (0: none), then resets it. The output produced meanwhile must be sent only once
  // Store::OnDurable reports the ticket durable.
  uint64_t TakeDurabilityTicket() { return std::exchange(durability_ticket_, 0); }

 private:
  // Handles one frame, appending at most one response frame to `*output`.
  void HandleFrame(const protocol::native::Frame& frame, std::string* output);
  // Runs request_ through the gate and the handler; the builder adapts the reply.
  void Dispatch();
  // The gate's authentication check for ops the session serves itself (FLUSH, WHOAMI, empty
  // MGET/MSET/MEXISTS). False (and an Err Unauthorized written) when not authenticated.
  bool CheckAuthenticated();
  // Pipelining: before `frame` (at `offset` of `input`, `consumed` bytes) runs, prefetches the
  // keys of it and of the complete frames behind it, up to Store::kMaxPrefetchKeys keys
  // (Store::PrefetchKeys), as RespSession does. Returns the offset where that window ends.
  size_t PrefetchWindow(std::string_view input, size_t offset, const protocol::native::Frame& frame,
                        size_t consumed);

  Dispatcher* const dispatcher_;
  const NativeSessionOptions options_;
  protocol::native::FrameParser parser_;
  protocol::Request request_;
  const CommandSpec* spec_ = nullptr;  // the command request_ runs as (null: look it up by name)
  std::string scratch_;                // decompressed LZ4 payloads
  std::string arg_text_[2];            // decimal arguments of vector ops (the request views them)
  std::unique_ptr<NativeReplyBuilder> builder_;
  std::unique_ptr<ConnectionContext> conn_;
  uint64_t durability_ticket_ = 0;
};

}  // namespace skeg::server
