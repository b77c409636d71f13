// ReplyBuilder: the protocol-neutral interface every command handler writes its reply through.
//
// A handler describes its reply as typed values (integer, bulk string, array of n elements,
// map of n pairs, ...); the concrete builder encodes them for the connection's protocol:
// RespReplyBuilder (protocol/resp/resp_writer.h) for RESP2/RESP3, later a native encoder. So
// one handler serves every protocol (Valkey's addReply*, Dragonfly's SinkReplyBuilder).
//
// Aggregates are a header followed by their elements: ArrayStart(n) by exactly n values,
// MapStart(n) by n key/value pairs (2n values), SetStart(n)/PushStart(n) by n values. Elements
// may be aggregates. Counts are not checked; a miscount corrupts the stream for the client.
// Types a protocol lacks are downgraded as documented by the implementation (RESP2: map ->
// flat array, boolean -> 1/0, double -> bulk string).
//
// Errors: Error(const Status&) maps through the single table in protocol/errors.h; Error(text)
// takes a complete text with its prefix ("ERR syntax error"). CR/LF become spaces.
//
// Ownership: string views passed in are copied before the method returns.
// Thread-safety: none; one builder belongs to one connection.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"

namespace skeg::protocol {

class ReplyBuilder {
 public:
  virtual ~ReplyBuilder() = default;

  ReplyBuilder(const ReplyBuilder&) = delete;
  ReplyBuilder& operator=(const ReplyBuilder&) = delete;

  // A short status line ("OK", "PONG", "QUEUED"). Must not contain CR/LF (replaced by spaces).
  virtual void SimpleString(std::string_view text) = 0;

  // SimpleString("OK").
  void Ok() { SimpleString("OK"); }

  // An error reply with its full text, prefix included: Error("ERR syntax error").
  // An empty text is sent as "ERR".
  void Error(std::string_view full_text) { WriteError(full_text); }

  // An error reply for a non-OK status: WriteStatusError(status), which by default writes the
  // text ErrorText(status) (protocol/errors.h).
  void Error(const Status& status) { WriteStatusError(status); }

  // A signed 64-bit integer.
  virtual void Integer(int64_t value) = 0;

  // A binary-safe string of any length (bulk string).
  virtual void Bulk(std::string_view value) = 0;

  // "No value" in a scalar position, e.g. GET of a missing key (RESP3 null; RESP2 null bulk).
  virtual void Null() = 0;

  // "No value" in an aggregate position, e.g. a timed-out BLPOP (RESP3 null; RESP2 null array).
  virtual void NullArray() = 0;

  // An IEEE double. inf, -inf and nan are allowed.
  virtual void Double(double value) = 0;

  // A boolean (RESP3 boolean; RESP2 integer 1 or 0).
  virtual void Bool(bool value) = 0;

  // Header of an ordered array of `count` elements.
  virtual void ArrayStart(size_t count) = 0;

  // Header of a map of `pairs` key/value pairs (2 * pairs values follow, key first).
  virtual void MapStart(size_t pairs) = 0;

  // Header of an unordered set of `count` distinct elements.
  virtual void SetStart(size_t count) = 0;

  // Header of an out-of-band push message of `count` elements (pub/sub, invalidations).
  virtual void PushStart(size_t count) = 0;

  // Human-readable text with a 3-byte format tag ("txt" or "mkd"), e.g. INFO, CLIENT LIST.
  // REQUIRES: format.size() == 3 (anything else is sent as "txt").
  virtual void Verbatim(std::string_view text, std::string_view format = "txt") = 0;

  // An arbitrary-precision integer given as its decimal digits with optional leading '-'.
  // The caller guarantees the digits are well formed.
  virtual void BigNumber(std::string_view digits) = 0;

  // Convenience: ArrayStart(values.size()) followed by Bulk() of each value.
  void BulkArray(std::span<const std::string_view> values);

 protected:
  ReplyBuilder() = default;

  // Writes one error reply; `full_text` is as given to Error(std::string_view).
  virtual void WriteError(std::string_view full_text) = 0;

  // Writes one error reply for a non-OK status. The default calls WriteError(ErrorText(status));
  // a builder that needs the status code itself (the native encoder maps it with
  // NativeErrorFor) or forwards to another builder overrides it.
  virtual void WriteStatusError(const Status& status);
};

}  // namespace skeg::protocol
