#include "server/temp_protocols.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "common/coding.h"

namespace skeg::server::temp {
namespace {

// Redis's limits for the parts we parse here.
constexpr size_t kMaxInlineBytes = 64 * 1024;
constexpr int64_t kMaxMultibulkLength = 1024 * 1024;

bool IsCommand(std::string_view name, std::string_view expected) {
  return name.size() == expected.size() &&
         std::equal(name.begin(), name.end(), expected.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// Redis quotes at most 128 bytes of a name or argument, with newlines blanked out.
std::string Quoted(std::string_view s) {
  std::string q(s.substr(0, 128));
  std::replace(q.begin(), q.end(), '\r', ' ');
  std::replace(q.begin(), q.end(), '\n', ' ');
  return "'" + q + "'";
}

// Appends the reply to one command; returns true when the connection should close.
bool Execute(const std::vector<std::string_view>& argv, std::string* out) {
  if (argv.empty()) return false;
  if (IsCommand(argv[0], "ping")) {
    if (argv.size() == 1) {
      out->append("+PONG\r\n");
    } else if (argv.size() == 2) {
      out->append(fmt::format("${}\r\n{}\r\n", argv[1].size(), argv[1]));
    } else {
      out->append("-ERR wrong number of arguments for 'ping' command\r\n");
    }
    return false;
  }
  if (IsCommand(argv[0], "quit")) {
    out->append("+OK\r\n");
    return true;
  }
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    args += Quoted(argv[i]) + " ";
  }
  out->append(fmt::format("-ERR unknown command {}, with args beginning with: {}\r\n",
                          Quoted(argv[0]), args));
  return false;
}

bool ParseInt(std::string_view text, int64_t* value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

enum class Parse { kDone, kNeedMore, kError };

// Parses one multibulk request at the front of `in`. On kDone sets `consumed` and `argv`
// (views into `in`); on kError appends the error reply.
Parse ParseMultibulk(std::string_view in, uint64_t max_bulk_bytes, size_t* consumed,
                     std::vector<std::string_view>* argv, std::string* out) {
  size_t eol = in.find("\r\n");
  if (eol == std::string_view::npos) {
    if (in.size() > kMaxInlineBytes) {
      out->append("-ERR Protocol error: too big mbulk count string\r\n");
      return Parse::kError;
    }
    return Parse::kNeedMore;
  }
  int64_t count = 0;
  if (!ParseInt(in.substr(1, eol - 1), &count) || count > kMaxMultibulkLength) {
    out->append("-ERR Protocol error: invalid multibulk length\r\n");
    return Parse::kError;
  }
  size_t pos = eol + 2;
  argv->clear();
  for (int64_t i = 0; i < count; ++i) {
    if (pos >= in.size()) return Parse::kNeedMore;
    if (in[pos] != '$') {
      out->append(fmt::format("-ERR Protocol error: expected '$', got '{}'\r\n", in[pos]));
      return Parse::kError;
    }
    eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (in.size() - pos > kMaxInlineBytes) {
        out->append("-ERR Protocol error: too big bulk count string\r\n");
        return Parse::kError;
      }
      return Parse::kNeedMore;
    }
    int64_t len = 0;
    if (!ParseInt(in.substr(pos + 1, eol - pos - 1), &len) || len < 0 ||
        static_cast<uint64_t>(len) > max_bulk_bytes) {
      out->append("-ERR Protocol error: invalid bulk length\r\n");
      return Parse::kError;
    }
    pos = eol + 2;
    // Compare without adding to pos first, so a huge len cannot overflow.
    if (in.size() - pos < static_cast<uint64_t>(len) + 2) return Parse::kNeedMore;
    argv->push_back(in.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len) + 2;
  }
  *consumed = pos;
  return Parse::kDone;
}

void AppendNativeFrame(uint8_t op, uint64_t req_id, std::string_view payload, std::string* out) {
  char header[kNativeHeaderBytes] = {};
  EncodeFixed16(header, kNativeMagic);
  header[2] = static_cast<char>(kNativeVersion);
  header[3] = static_cast<char>(op);
  EncodeFixed32(header + 4, 0);
  EncodeFixed64(header + 8, req_id);
  EncodeFixed32(header + 16, static_cast<uint32_t>(payload.size()));
  EncodeFixed32(header + 20, 0);
  out->append(header, sizeof(header));
  out->append(payload);
}

void AppendNativeError(uint64_t req_id, uint8_t code, std::string_view message, std::string* out) {
  std::string payload;
  payload.push_back(static_cast<char>(code));
  message = message.substr(0, 255);
  payload.push_back(static_cast<char>(message.size()));
  payload.append(message);
  AppendNativeFrame(kNativeOpErr, req_id, payload, out);
}

bool IsKnownNativeOp(uint8_t op) {
  return (op >= 0x01 && op <= 0x07) || (op >= 0x10 && op <= 0x16) || (op >= 0x80 && op <= 0x85) ||
         (op >= 0xC0 && op <= 0xC2);
}

}  // namespace

HandleResult HandleResp(std::string_view input, uint64_t max_bulk_bytes, std::string* out) {
  HandleResult result;
  std::vector<std::string_view> argv;
  while (result.consumed < input.size() && !result.close) {
    std::string_view in = input.substr(result.consumed);
    if (in.front() == '*') {
      size_t consumed = 0;
      Parse p = ParseMultibulk(in, max_bulk_bytes, &consumed, &argv, out);
      if (p == Parse::kNeedMore) break;
      if (p == Parse::kError) {
        result.close = true;
        break;
      }
      result.consumed += consumed;
    } else {
      size_t eol = in.find('\n');
      if (eol == std::string_view::npos) {
        if (in.size() > kMaxInlineBytes) {
          out->append("-ERR Protocol error: too big inline request\r\n");
          result.close = true;
        }
        break;
      }
      std::string_view line = in.substr(0, eol);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      argv.clear();
      size_t pos = 0;
      while (pos < line.size()) {
        size_t start = line.find_first_not_of(" \t", pos);
        if (start == std::string_view::npos) break;
        size_t end = std::min(line.find_first_of(" \t", start), line.size());
        argv.push_back(line.substr(start, end - start));
        pos = end;
      }
      result.consumed += eol + 1;
    }
    result.close = Execute(argv, out);
  }
  return result;
}

HandleResult HandleNative(std::string_view input, std::string* out) {
  constexpr uint32_t kKnownFlags = 0xFF;  // bits 0..7
  constexpr uint32_t kReservedFlags = (1u << 2) | (1u << 3) | (1u << 5);
  HandleResult result;
  while (input.size() - result.consumed >= kNativeHeaderBytes) {
    const char* h = input.data() + result.consumed;
    const uint8_t version = static_cast<uint8_t>(h[2]);
    const uint8_t op = static_cast<uint8_t>(h[3]);
    const uint32_t flags = DecodeFixed32(h + 4);
    const uint64_t req_id = DecodeFixed64(h + 8);
    const uint32_t payload_len = DecodeFixed32(h + 16);
    // A broken header is unrecoverable: close without a reply.
    if (DecodeFixed16(h) != kNativeMagic || version != kNativeVersion || !IsKnownNativeOp(op) ||
        (flags & ~kKnownFlags) != 0 || payload_len > kNativeMaxPayloadBytes) {
      result.close = true;
      break;
    }
    if (input.size() - result.consumed - kNativeHeaderBytes < payload_len) break;
    result.consumed += kNativeHeaderBytes + payload_len;
    constexpr uint8_t kInvalidRequest = 0x02;
    constexpr uint8_t kInternal = 0x03;
    if ((flags & kReservedFlags) != 0 || op >= kNativeOpOk) {
      AppendNativeError(req_id, kInvalidRequest, "reserved flag or response op in a request", out);
    } else if (op == kNativeOpPing) {
      AppendNativeFrame(kNativeOpOk, req_id, {}, out);
    } else {
      AppendNativeError(req_id, kInternal, "not implemented yet", out);
    }
  }
  return result;
}

}  // namespace skeg::server::temp
