// RespParser: a pure, resumable parser for client requests in the Redis protocol.
//
// Input forms accepted, exactly as Redis 7 accepts them:
//   * Multibulk (RESP2 and RESP3 clients alike):  *<n>\r\n then n times $<len>\r\n<bytes>\r\n
//     `*0` and negative counts (`*-1`) are empty requests: consumed and skipped.
//   * Inline (telnet style): any line not starting with '*', terminated by "\n" or "\r\n", split
//     into words like Redis's sdssplitargs(): blanks separate words, "double quotes" understand
//     \n \r \t \b \a \xHH and \<any>, 'single quotes' understand \', a closing quote must be
//     followed by a blank or the end of the line, and a NUL byte ends the line. Blank lines
//     are skipped.
// Clients never send other RESP3 types, and Redis rejects them; so does this parser (inside a
// multibulk every element must be a '$' bulk string). Requests are flat, so there is no
// nesting to bound.
//
// Buffer contract. The caller (a connection) owns a growable input buffer. It calls
// Parse(unconsumed_bytes, &request):
//   kOk       one request was parsed; the caller drops the first `consumed` bytes and may call
//             again at once for the next pipelined request.
//   kNeedMore the bytes end inside a request. The caller drops the first `consumed` bytes
//             (possibly 0: skipped empty requests or blank lines), reads more from the socket
//             and calls again with the remaining bytes extended by the new ones. The buffer may
//             move or grow in between, but the bytes already presented must not change.
//   kError    the stream is malformed; error() holds Redis's text ("Protocol error: ..."),
//             which a RESP server sends as "-ERR <text>" before closing the connection. The
//             error is sticky: later calls return it again until Reset().
// The parser keeps its position between calls, so each byte is examined O(1) times however
// the stream is split: a 512 MiB bulk string is never rescanned as it trickles in, and
// RequiredInputBytes() tells the caller how big the buffer must become (so it can reserve the
// whole value once). A request split at any byte boundary parses exactly as if it arrived in
// one piece.
//
// Limits (ParserOptions) are checked before anything is allocated: a declared length or count
// never causes an allocation by itself; memory grows only with bytes actually received.
//
// Views. On kOk, `*out` holds views that stay valid until the next Parse() or Reset() on this
// parser AND while the caller keeps the consumed input bytes unchanged. Multibulk arguments
// point into the caller's input; inline arguments point into the parser's scratch buffer
// (quote handling rewrites them). So: dispatch the request, then drop the consumed bytes.
//
// Thread-safety: none; one parser per connection. No I/O, no engine calls, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/request.h"

namespace skeg::protocol::resp {

// Limits, all in bytes or elements. Defaults are Redis's.
struct ParserOptions {
  // Largest accepted bulk string (Redis proto-max-bulk-len). Larger → "invalid bulk length".
  size_t max_bulk_bytes = size_t{512} << 20;
  // Largest accepted multibulk element count. Larger → "invalid multibulk length".
  size_t max_multibulk_elements = 1048576;
  // Longest inline request line, and longest *<n> / $<len> header line (PROTO_INLINE_MAX_SIZE).
  size_t max_inline_bytes = size_t{64} << 10;

  // InvalidArgument when any limit is 0.
  [[nodiscard]] Status Validate() const;
};

enum class ParseStatus : uint8_t { kOk, kNeedMore, kError };

struct ParseResult {
  ParseStatus status;
  // Bytes at the front of the input the caller must drop (see the class comment). Always 0 on
  // kError.
  size_t consumed;
};

class RespParser {
 public:
  // REQUIRES: options.Validate().ok().
  explicit RespParser(const ParserOptions& options = {});

  RespParser(const RespParser&) = delete;
  RespParser& operator=(const RespParser&) = delete;

  // Parses at most one request from `input` (the caller's unconsumed bytes) into `*out`
  // (cleared first; left empty unless kOk). See the class comment for the contract.
  ParseResult Parse(std::string_view input, Request* out);

  // After kError: the protocol error text, e.g. "Protocol error: invalid bulk length".
  // Empty otherwise. Valid until Reset() or destruction.
  std::string_view error() const { return error_; }

  // After kNeedMore: a lower bound on the size the (post-`consumed`) input must reach before
  // Parse() can make progress. Exact while waiting for a bulk payload; otherwise the presented
  // size + 1.
  size_t RequiredInputBytes() const;

  // Forgets any partial request and a sticky error; keeps allocated capacity.
  void Reset();

  // A look at the multibulk request at the start of `input` without parsing it: its second
  // argument (usually the key), if the first two arguments are complete there (else empty),
  // and its size in bytes if the whole request is there with at most kPeekMaxArguments
  // arguments (else 0). An inline request, a malformed or partial header, or an empty second
  // argument give an empty key. Reads only headers and the command name, allocates nothing
  // and does not touch the parser's state: a session uses it to find the keys of the
  // pipelined requests behind the current one (to prefetch what their lookups will touch)
  // before it runs the current one. Never an error; Parse() judges the bytes later. Whenever
  // Parse() accepts the request, its second argument is `key` (when not empty) and its
  // `consumed` is `size` (when not 0).
  struct Peeked {
    std::string_view key;
    size_t size = 0;
  };
  static constexpr uint64_t kPeekMaxArguments = 64;
  static Peeked Peek(std::string_view input);

 private:
  enum class State : uint8_t {
    kStart,        // at a request boundary
    kCount,        // inside "*<n>\r\n"
    kBulkHeader,   // expecting "$<len>\r\n"
    kBulkPayload,  // expecting <len> bytes + "\r\n"
    kInline,       // inside an inline line
    kError,
  };
  // One argument as an offset/length in the current request (the input may move).
  struct Span {
    size_t offset;
    size_t length;
  };

  // Outcome of one parsing step on the current request.
  enum class Step : uint8_t {
    kContinue,  // advanced; keep going
    kNeedMore,  // the input ends inside the request
    kError,     // Fail() was called
    kDone,      // request complete, arguments in spans_ (multibulk) or scratch_ (inline)
    kEmpty,     // *0, *-<n> or a blank inline line: pos_ bytes to skip, no request
  };
  Step ParseCount(std::string_view in);
  Step ParseBulkHeader(std::string_view in);
  Step ParseBulkPayload(std::string_view in);
  Step ParseInline(std::string_view in);
  // Finds "\r\n" ending the header line that starts at pos_. Returns the index of '\r', or
  // npos when more input is needed or after Fail() (state_ == kError): `too_big_text` when the
  // line exceeds max_inline_bytes, `invalid_text` when '\r' is not followed by '\n'.
  size_t FindHeaderEnd(std::string_view in, std::string_view too_big_text,
                       std::string_view invalid_text);
  void Fail(std::string_view text);
  void StartRequest();

  ParserOptions options_;
  State state_ = State::kStart;
  size_t pos_ = 0;              // bytes of the current request fully parsed
  size_t scan_pos_ = 0;         // where the search for the current line terminator resumes
  size_t remaining_ = 0;        // multibulk elements still expected
  size_t bulk_length_ = 0;      // length of the bulk payload being read
  size_t last_input_size_ = 0;  // size of the input presented by the last kNeedMore
  std::vector<Span> spans_;     // multibulk arguments parsed so far
  bool inline_ = false;         // the current request is inline (arguments in scratch_)
  std::string scratch_;         // inline arguments, unquoted
  std::string error_;
};

}  // namespace skeg::protocol::resp
