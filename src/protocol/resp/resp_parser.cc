#include "protocol/resp/resp_parser.h"

#include <cstring>
#include <limits>

namespace skeg::protocol::resp {
namespace {

constexpr std::string_view kInvalidMultibulkLength = "Protocol error: invalid multibulk length";
constexpr std::string_view kInvalidBulkLength = "Protocol error: invalid bulk length";
constexpr std::string_view kTooBigMultibulkCount = "Protocol error: too big mbulk count string";
constexpr std::string_view kTooBigBulkCount = "Protocol error: too big bulk count string";
constexpr std::string_view kTooBigInline = "Protocol error: too big inline request";
constexpr std::string_view kUnbalancedQuotes = "Protocol error: unbalanced quotes in request";

// Redis's string2ll(): optional '-', no '+', no leading zeros, no "-0", no blanks, no overflow.
// Matching it exactly matters: "*01\r\n" or "$+3\r\n" must be rejected as Redis rejects them.
bool ParseRedisInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && ++i == s.size()) return false;
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const auto digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  const auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (v > max + 1) return false;
    *out = static_cast<int64_t>(0 - v);  // modular conversion is well defined in C++20
  } else {
    if (v > max) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// C isspace() in the "C" locale, which sdssplitargs uses to skip blanks.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// A faithful port of Redis's sdssplitargs() (sds.c), writing unquoted arguments into `scratch`
// and their positions into `spans`. Redis runs it on a C string, so a NUL ends the line; the
// `at` helper reproduces the reads past the end as '\0'. Returns false on unbalanced quotes.
template <typename SpanVec>
bool SplitInlineArgs(std::string_view line, std::string* scratch, SpanVec* spans) {
  line = line.substr(0, line.find('\0'));
  // The unquoted text is never longer than the line, so this is the only allocation.
  scratch->clear();
  scratch->reserve(line.size());
  auto at = [line](size_t i) -> char { return i < line.size() ? line[i] : '\0'; };
  size_t p = 0;
  while (true) {
    while (p < line.size() && IsSpace(line[p])) ++p;
    if (p >= line.size()) return true;
    const size_t start = scratch->size();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(p);
      if (in_double) {
        if (c == '\\' && at(p + 1) == 'x' && IsHexDigit(at(p + 2)) && IsHexDigit(at(p + 3))) {
          scratch->push_back(static_cast<char>(HexValue(at(p + 2)) * 16 + HexValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (at(p)) {
            case 'n':
              scratch->push_back('\n');
              break;
            case 'r':
              scratch->push_back('\r');
              break;
            case 't':
              scratch->push_back('\t');
              break;
            case 'b':
              scratch->push_back('\b');
              break;
            case 'a':
              scratch->push_back('\a');
              break;
            default:
              scratch->push_back(at(p));
              break;
          }
        } else if (c == '"') {
          // The closing quote must be followed by a blank or the end of the line.
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // unterminated
        } else {
          scratch->push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          scratch->push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          scratch->push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            scratch->push_back(c);
            break;
        }
      }
      if (at(p) != '\0') ++p;
    }
    spans->push_back({start, scratch->size() - start});
  }
}

}  // namespace

Status ParserOptions::Validate() const {
  if (max_bulk_bytes == 0 || max_multibulk_elements == 0 || max_inline_bytes == 0) {
    return Status::InvalidArgument("RESP parser limits must be positive");
  }
  // Keeps every offset computation (pos + length + 2) far from overflow.
  constexpr size_t kMaxLimit = size_t{1} << 40;
  if (max_bulk_bytes > kMaxLimit || max_multibulk_elements > kMaxLimit ||
      max_inline_bytes > kMaxLimit) {
    return Status::InvalidArgument("RESP parser limit above 1 TiB");
  }
  return Status::Ok();
}

RespParser::RespParser(const ParserOptions& options) : options_(options) {
  SKEG_CHECK(options_.Validate().ok());
}

void RespParser::Reset() {
  state_ = State::kStart;
  StartRequest();
  last_input_size_ = 0;
  error_.clear();
}

void RespParser::StartRequest() {
  pos_ = 0;
  scan_pos_ = 0;
  remaining_ = 0;
  bulk_length_ = 0;
  inline_ = false;
  spans_.clear();
}

void RespParser::Fail(std::string_view text) {
  state_ = State::kError;
  error_.assign(text);
}

size_t RespParser::RequiredInputBytes() const {
  if (state_ == State::kBulkPayload) return pos_ + bulk_length_ + 2;
  return last_input_size_ + 1;
}

ParseResult RespParser::Parse(std::string_view input, Request* out) {
  out->Clear();
  size_t skipped = 0;  // bytes of empty requests consumed during this call
  while (true) {
    const std::string_view in = input.substr(skipped);
    Step step = Step::kContinue;
    switch (state_) {
      case State::kError:
        return {ParseStatus::kError, 0};
      case State::kStart:
        if (in.empty()) {
          step = Step::kNeedMore;
          break;
        }
        StartRequest();
        inline_ = in[0] != '*';
        state_ = inline_ ? State::kInline : State::kCount;
        break;
      case State::kCount:
        step = ParseCount(in);
        break;
      case State::kBulkHeader:
        step = ParseBulkHeader(in);
        break;
      case State::kBulkPayload:
        step = ParseBulkPayload(in);
        break;
      case State::kInline:
        step = ParseInline(in);
        break;
    }
    switch (step) {
      case Step::kContinue:
        break;
      case Step::kNeedMore:
        last_input_size_ = in.size();
        return {ParseStatus::kNeedMore, skipped};
      case Step::kError:
        return {ParseStatus::kError, 0};
      case Step::kEmpty:
        skipped += pos_;
        state_ = State::kStart;
        break;
      case Step::kDone: {
        const std::string_view base = inline_ ? std::string_view(scratch_) : in;
        for (const Span& s : spans_) out->Append(base.substr(s.offset, s.length));
        const size_t consumed = skipped + pos_;
        state_ = State::kStart;
        return {ParseStatus::kOk, consumed};
      }
    }
  }
}

size_t RespParser::FindHeaderEnd(std::string_view in, std::string_view too_big_text,
                                 std::string_view invalid_text) {
  // Resume the search where the previous call stopped, so a header trickling in byte by byte
  // costs O(length) in total. The '\r' index is judged against the limit whether or not it has
  // arrived yet, which makes the outcome independent of how the stream is split.
  const size_t from = scan_pos_ > pos_ ? scan_pos_ : pos_;
  const void* hit =
      from < in.size() ? std::memchr(in.data() + from, '\r', in.size() - from) : nullptr;
  if (hit == nullptr) {
    if (in.size() - pos_ > options_.max_inline_bytes) {
      Fail(too_big_text);
    } else {
      scan_pos_ = in.size();
    }
    return std::string_view::npos;
  }
  const auto cr = static_cast<size_t>(static_cast<const char*>(hit) - in.data());
  if (cr - pos_ > options_.max_inline_bytes) {
    Fail(too_big_text);
    return std::string_view::npos;
  }
  scan_pos_ = cr;
  if (cr + 1 >= in.size()) return std::string_view::npos;
  // Redis skips the byte after '\r' unseen; we insist on "\r\n" so a desynchronised client
  // fails here instead of on some later, confusing byte.
  if (in[cr + 1] != '\n') {
    Fail(invalid_text);
    return std::string_view::npos;
  }
  return cr;
}

RespParser::Step RespParser::ParseCount(std::string_view in) {
  const size_t cr = FindHeaderEnd(in, kTooBigMultibulkCount, kInvalidMultibulkLength);
  if (cr == std::string_view::npos) return state_ == State::kError ? Step::kError : Step::kNeedMore;
  int64_t count = 0;
  if (!ParseRedisInt(in.substr(pos_ + 1, cr - pos_ - 1), &count) ||
      (count > 0 && static_cast<uint64_t>(count) > options_.max_multibulk_elements)) {
    Fail(kInvalidMultibulkLength);
    return Step::kError;
  }
  pos_ = cr + 2;
  if (count <= 0) return Step::kEmpty;
  remaining_ = static_cast<size_t>(count);
  state_ = State::kBulkHeader;
  return Step::kContinue;
}

RespParser::Step RespParser::ParseBulkHeader(std::string_view in) {
  if (pos_ >= in.size()) return Step::kNeedMore;
  if (in[pos_] != '$') {
    error_.assign("Protocol error: expected '$', got '");
    error_.push_back(in[pos_]);
    error_.push_back('\'');
    state_ = State::kError;
    return Step::kError;
  }
  const size_t cr = FindHeaderEnd(in, kTooBigBulkCount, kInvalidBulkLength);
  if (cr == std::string_view::npos) return state_ == State::kError ? Step::kError : Step::kNeedMore;
  int64_t length = 0;
  if (!ParseRedisInt(in.substr(pos_ + 1, cr - pos_ - 1), &length) || length < 0 ||
      static_cast<uint64_t>(length) > options_.max_bulk_bytes) {
    Fail(kInvalidBulkLength);
    return Step::kError;
  }
  bulk_length_ = static_cast<size_t>(length);
  pos_ = cr + 2;
  state_ = State::kBulkPayload;
  return Step::kContinue;
}

RespParser::Step RespParser::ParseBulkPayload(std::string_view in) {
  // The payload is never scanned: waiting for it is a size comparison.
  const size_t end = pos_ + bulk_length_;
  if (in.size() < end + 2) return Step::kNeedMore;
  // Redis skips the two bytes after the payload unseen; a wrong terminator means the declared
  // length was wrong, reported with Redis's text for a bad length.
  if (in[end] != '\r' || in[end + 1] != '\n') {
    Fail(kInvalidBulkLength);
    return Step::kError;
  }
  // Grows only with arguments actually received, never with the declared count.
  spans_.push_back({pos_, bulk_length_});
  pos_ = end + 2;
  scan_pos_ = pos_;
  if (--remaining_ == 0) return Step::kDone;
  state_ = State::kBulkHeader;
  return Step::kContinue;
}

RespParser::Step RespParser::ParseInline(std::string_view in) {
  const size_t from = scan_pos_;
  const void* hit =
      from < in.size() ? std::memchr(in.data() + from, '\n', in.size() - from) : nullptr;
  if (hit == nullptr) {
    if (in.size() > options_.max_inline_bytes) {
      Fail(kTooBigInline);
      return Step::kError;
    }
    scan_pos_ = in.size();
    return Step::kNeedMore;
  }
  const auto newline = static_cast<size_t>(static_cast<const char*>(hit) - in.data());
  if (newline > options_.max_inline_bytes) {
    Fail(kTooBigInline);
    return Step::kError;
  }
  std::string_view line = in.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = newline + 1;
  if (!SplitInlineArgs(line, &scratch_, &spans_)) {
    Fail(kUnbalancedQuotes);
    return Step::kError;
  }
  return spans_.empty() ? Step::kEmpty : Step::kDone;
}

namespace {
// Reads "<prefix><decimal>\r\n" at *pos; advances past it. At most 18 digits, so the value
// cannot wrap (real limits are far lower; Parse() enforces them).
bool PeekHeader(std::string_view in, size_t* pos, char prefix, uint64_t* value) {
  if (*pos >= in.size() || in[*pos] != prefix) return false;
  size_t i = *pos + 1;
  uint64_t v = 0;
  const size_t digits_start = i;
  while (i < in.size() && in[i] >= '0' && in[i] <= '9' && i - digits_start < 18) {
    v = v * 10 + static_cast<uint64_t>(in[i] - '0');
    ++i;
  }
  if (i == digits_start || i + 1 >= in.size() || in[i] != '\r' || in[i + 1] != '\n') return false;
  *pos = i + 2;
  *value = v;
  return true;
}
}  // namespace

RespParser::Peeked RespParser::Peek(std::string_view input) {
  Peeked out;
  size_t pos = 0;
  uint64_t count = 0, len = 0;
  if (!PeekHeader(input, &pos, '*', &count) || count < 1) return out;
  for (uint64_t i = 0; i < count; ++i) {
    // An argument: its header, then its bytes and CRLF (checked by Parse(), skipped here).
    if (!PeekHeader(input, &pos, '$', &len) || len > input.size() - pos) return out;
    if (i == 1 && len > 0) out.key = input.substr(pos, len);
    if (input.size() - pos - len < 2) return out;
    pos += len + 2;
    if (i + 1 >= kPeekMaxArguments && i + 1 < count) return out;  // too long to walk
  }
  out.size = pos;
  return out;
}

}  // namespace skeg::protocol::resp
