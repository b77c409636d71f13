#include "protocol/resp/resp_writer.h"

#include <charconv>
#include <cmath>

#include "common/check.h"

namespace skeg::protocol::resp {
namespace {

constexpr std::string_view kCrlf = "\r\n";

template <typename Int>
void AppendInt(Int value, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, r.ptr);
}

constexpr size_t kDoubleBufferSize = 32;  // "-1.2345678901234567e-308" is 24 bytes

// Redis 7.2's d2string(): nan/inf spelled out, signed zero kept, integral values within
// double2ll()'s range (|v| <= 2^62) printed as integers, the rest as shortest round-trip text.
size_t FormatDouble(double value, char (&buf)[kDoubleBufferSize]) {
  std::string_view fixed;
  if (std::isnan(value)) {
    fixed = "nan";
  } else if (std::isinf(value)) {
    fixed = value < 0 ? "-inf" : "inf";
  } else if (value == 0) {
    fixed = std::signbit(value) ? "-0" : "0";
  }
  if (!fixed.empty()) {
    fixed.copy(buf, fixed.size());
    return fixed.size();
  }
  constexpr double kLimit = 4611686018427387904.0;  // 2^62
  std::to_chars_result r;
  if (value >= -kLimit && value <= kLimit &&
      static_cast<double>(static_cast<int64_t>(value)) == value) {
    r = std::to_chars(buf, buf + kDoubleBufferSize, static_cast<int64_t>(value));
  } else {
    r = std::to_chars(buf, buf + kDoubleBufferSize, value);
  }
  return static_cast<size_t>(r.ptr - buf);
}

}  // namespace

void AppendDoubleText(double value, std::string* out) {
  char buf[kDoubleBufferSize];
  out->append(buf, FormatDouble(value, buf));
}

void AppendRequest(std::span<const std::string_view> args, std::string* out) {
  out->push_back('*');
  AppendInt(args.size(), out);
  out->append(kCrlf);
  for (std::string_view arg : args) {
    out->push_back('$');
    AppendInt(arg.size(), out);
    out->append(kCrlf);
    out->append(arg);
    out->append(kCrlf);
  }
}

std::string EncodeRequest(std::initializer_list<std::string_view> args) {
  std::string out;
  AppendRequest(std::span<const std::string_view>(args.begin(), args.size()), &out);
  return out;
}

RespReplyBuilder::RespReplyBuilder(std::string* out, RespVersion version)
    : out_(out), version_(version) {
  SKEG_CHECK(out_ != nullptr);
}

void RespReplyBuilder::Header(char type, uint64_t n) {
  out_->push_back(type);
  AppendInt(n, out_);
  out_->append(kCrlf);
}

void RespReplyBuilder::Line(char type, std::string_view text) {
  out_->push_back(type);
  const size_t start = out_->size();
  out_->append(text);
  for (size_t i = start; i < out_->size(); ++i) {
    char& c = (*out_)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out_->append(kCrlf);
}

void RespReplyBuilder::SimpleString(std::string_view text) { Line('+', text); }

void RespReplyBuilder::WriteError(std::string_view full_text) {
  Line('-', full_text.empty() ? std::string_view("ERR") : full_text);
}

void RespReplyBuilder::Integer(int64_t value) {
  out_->push_back(':');
  AppendInt(value, out_);
  out_->append(kCrlf);
}

void RespReplyBuilder::Bulk(std::string_view value) {
  Header('$', value.size());
  out_->append(value);
  out_->append(kCrlf);
}

void RespReplyBuilder::Null() { out_->append(resp3() ? "_\r\n" : "$-1\r\n"); }

void RespReplyBuilder::NullArray() { out_->append(resp3() ? "_\r\n" : "*-1\r\n"); }

void RespReplyBuilder::Double(double value) {
  if (resp3()) {
    out_->push_back(',');
    AppendDoubleText(value, out_);
    out_->append(kCrlf);
    return;
  }
  char buf[kDoubleBufferSize];
  Bulk(std::string_view(buf, FormatDouble(value, buf)));
}

void RespReplyBuilder::Bool(bool value) {
  if (resp3()) {
    out_->append(value ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(value ? ":1\r\n" : ":0\r\n");
  }
}

void RespReplyBuilder::ArrayStart(size_t count) { Header('*', count); }

void RespReplyBuilder::MapStart(size_t pairs) {
  if (resp3()) {
    Header('%', pairs);
  } else {
    Header('*', uint64_t{pairs} * 2);
  }
}

void RespReplyBuilder::SetStart(size_t count) { Header(resp3() ? '~' : '*', count); }

void RespReplyBuilder::PushStart(size_t count) { Header(resp3() ? '>' : '*', count); }

void RespReplyBuilder::Verbatim(std::string_view text, std::string_view format) {
  if (!resp3()) {
    Bulk(text);
    return;
  }
  if (format.size() != 3) format = "txt";
  Header('=', text.size() + 4);
  out_->append(format);
  out_->push_back(':');
  out_->append(text);
  out_->append(kCrlf);
}

void RespReplyBuilder::BigNumber(std::string_view digits) {
  if (resp3()) {
    out_->push_back('(');
    out_->append(digits);
    out_->append(kCrlf);
  } else {
    Bulk(digits);
  }
}

}  // namespace skeg::protocol::resp
