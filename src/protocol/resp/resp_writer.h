// RespReplyBuilder: encodes ReplyBuilder values as RESP2 or RESP3 bytes.
//
// The builder appends to an output string owned by the caller (the connection's output
// buffer); it never flushes, never allocates outside that string, and never fails. The
// protocol version starts at RESP2, as every Redis connection does, and may be switched at any
// point between replies with set_version() (HELLO 3 / HELLO 2); the reply to HELLO itself is
// already encoded in the new version, as in Redis.
//
// Encodings (RESP3 | RESP2 downgrade), each line ending in \r\n:
//   SimpleString  +text                     | same
//   Error         -ERR text                 | same
//   Integer       :n                        | same
//   Bulk          $len\r\nbytes             | same
//   Null          _                         | $-1   (null bulk string)
//   NullArray     _                         | *-1   (null array)
//   Double        ,1.5   ,inf ,-inf ,nan    | $3\r\n1.5 (bulk string, same text)
//   Bool          #t / #f                   | :1 / :0
//   ArrayStart    *n                        | same
//   MapStart      %n                        | *2n   (flat key, value, key, value ...)
//   SetStart      ~n                        | *n
//   PushStart     >n                        | *n
//   Verbatim      =len\r\ntxt:text          | $len\r\ntext (plain bulk string)
//   BigNumber     (digits                   | $len\r\ndigits (bulk string)
// Doubles use Redis 7.2's d2string(): integral values of magnitude below 2^62 print as
// integers ("3", "-0" for negative zero), everything else as the shortest decimal text that
// round-trips (std::to_chars), e.g. "0.1", "1e+300".
// CR and LF inside simple strings and errors are replaced by spaces (Redis does the same for
// errors), so a handler can never break the framing.
//
// Thread-safety: none; one builder per connection. The output string must outlive the builder
// or be replaced with set_output() before use.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "protocol/reply_builder.h"

namespace skeg::protocol::resp {

enum class RespVersion : uint8_t { kResp2 = 2, kResp3 = 3 };

class RespReplyBuilder final : public ReplyBuilder {
 public:
  // Appends to `*out` (not owned; must outlive the builder). Starts in `version`.
  explicit RespReplyBuilder(std::string* out, RespVersion version = RespVersion::kResp2);

  RespVersion version() const { return version_; }
  // Takes effect from the next value written.
  void set_version(RespVersion version) { version_ = version; }

  // The output string being appended to, and a way to redirect it (e.g. per-shard buffers).
  std::string* output() const { return out_; }
  void set_output(std::string* out) { out_ = out; }

  void SimpleString(std::string_view text) override;
  void Integer(int64_t value) override;
  void Bulk(std::string_view value) override;
  void Null() override;
  void NullArray() override;
  void Double(double value) override;
  void Bool(bool value) override;
  void ArrayStart(size_t count) override;
  void MapStart(size_t pairs) override;
  void SetStart(size_t count) override;
  void PushStart(size_t count) override;
  void Verbatim(std::string_view text, std::string_view format = "txt") override;
  void BigNumber(std::string_view digits) override;

 protected:
  void WriteError(std::string_view full_text) override;

 private:
  bool resp3() const { return version_ == RespVersion::kResp3; }
  // Appends <type><n>\r\n.
  void Header(char type, uint64_t n);
  // Appends <type><text>\r\n with CR/LF in text replaced by spaces.
  void Line(char type, std::string_view text);

  std::string* out_;
  RespVersion version_;
};

// Appends the text Redis would send for `value` inside a double reply (no framing): "1.5",
// "3", "-0", "inf", "-inf", "nan", "1e+300". Exposed for ZSCORE-style bulk replies and tests.
void AppendDoubleText(double value, std::string* out);

// Appends the multibulk encoding of `args` (*<n>\r\n then $<len>\r\n<arg>\r\n each), which is
// how clients send requests. For tests, benchmarks, replication and clients.
void AppendRequest(std::span<const std::string_view> args, std::string* out);
// The same, returned as a new string: EncodeRequest({"SET", "k", "v"}).
std::string EncodeRequest(std::initializer_list<std::string_view> args);

}  // namespace skeg::protocol::resp
