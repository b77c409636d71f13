#include "server/command/arg_parse.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "common/ascii.h"

namespace skeg::server {

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  if (s.size() == 1 && s[0] == '0') return 0;
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return std::nullopt;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  constexpr uint64_t kMaxPos = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (v > kMaxPos + 1) return std::nullopt;
    return v == kMaxPos + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  }
  if (v > kMaxPos) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<long double> ParseLongDouble(std::string_view s) {
  constexpr size_t kMaxLongDoubleChars = 5 * 1024;
  if (s.empty() || s.size() >= kMaxLongDoubleChars) return std::nullopt;
  if (std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  const std::string buf(s);
  errno = 0;
  char* end = nullptr;
  const long double value = std::strtold(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || errno == ERANGE || std::isnan(value)) return std::nullopt;
  return value;
}

std::string FormatLongDouble(long double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[5 * 1024 + 32];
  const int n = std::snprintf(buf, sizeof(buf), "%.17Lf", value);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return "0";
  std::string out(buf, static_cast<size_t>(n));
  if (out.find('.') != std::string::npos) {
    while (!out.empty() && out.back() == '0') out.pop_back();
    if (!out.empty() && out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out;
}

std::string Int64Text(int64_t value) { return std::to_string(value); }

std::string UnknownCommandError(std::string_view name, const std::string_view* args, size_t n) {
  // Redis: for (i=1; i<argc && sdslen(args)<128; i++) args += "'%.*s' " with 128-len bytes.
  std::string quoted;
  for (size_t i = 0; i < n && quoted.size() < 128; ++i) {
    const size_t room = 128 - quoted.size();
    quoted += '\'';
    quoted.append(args[i].substr(0, room));
    quoted += "' ";
  }
  std::string text = "ERR unknown command '";
  text.append(name.substr(0, 128));
  text += "', with args beginning with: ";
  text += quoted;
  return text;
}

}  // namespace skeg::server
