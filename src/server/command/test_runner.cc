#include "server/command/test_runner.h"

#include <charconv>

#include "common/check.h"
#include "protocol/resp/resp_writer.h"

namespace skeg::server::testing {
namespace {

bool ReadLine(std::string_view in, size_t* pos, std::string_view* line) {
  const size_t end = in.find("\r\n", *pos);
  if (end == std::string_view::npos) return false;
  *line = in.substr(*pos, end - *pos);
  *pos = end + 2;
  return true;
}

bool ToInt(std::string_view s, int64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool DecodeResp(std::string_view in, size_t* pos, RespValue* out) {
  if (*pos >= in.size()) return false;
  const char type = in[*pos];
  ++*pos;
  std::string_view line;
  if (!ReadLine(in, pos, &line)) return false;
  using T = RespValue::Type;
  int64_t n = 0;
  switch (type) {
    case '+':
      out->type = T::kSimple;
      out->str = line;
      return true;
    case '-':
      out->type = T::kError;
      out->str = line;
      return true;
    case ':':
      out->type = T::kInteger;
      return ToInt(line, &out->integer);
    case '_':
      out->type = T::kNull;
      return true;
    case ',':
      out->type = T::kDouble;
      out->str = line;
      return true;
    case '(':
      out->type = T::kBigNumber;
      out->str = line;
      return true;
    case '#':
      out->type = T::kBool;
      out->integer = line == "t" ? 1 : 0;
      return true;
    case '$':
    case '=': {
      if (!ToInt(line, &n)) return false;
      if (n < 0) {
        out->type = T::kNull;
        return true;
      }
      if (in.size() < *pos + static_cast<size_t>(n) + 2) return false;
      out->type = type == '$' ? T::kBulk : T::kVerbatim;
      out->str = in.substr(*pos, static_cast<size_t>(n));
      if (type == '=') out->str.erase(0, 4);
      *pos += static_cast<size_t>(n) + 2;
      return true;
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      if (!ToInt(line, &n)) return false;
      if (n < 0) {
        out->type = T::kNull;
        return true;
      }
      out->type = type == '*'   ? T::kArray
                  : type == '~' ? T::kSet
                  : type == '>' ? T::kPush
                                : T::kMap;
      const size_t count = static_cast<size_t>(n) * (type == '%' ? 2 : 1);
      out->elems.resize(count);
      for (size_t i = 0; i < count; ++i) {
        if (!DecodeResp(in, pos, &out->elems[i])) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

std::string RespValue::ToString() const {
  std::string s;
  switch (type) {
    case Type::kSimple:
    case Type::kError:
      return str;
    case Type::kInteger:
      return "(integer) " + std::to_string(integer);
    case Type::kBool:
      return integer ? "(true)" : "(false)";
    case Type::kBulk:
    case Type::kVerbatim:
    case Type::kBigNumber:
      return "\"" + str + "\"";
    case Type::kDouble:
      return "(double) " + str;
    case Type::kNull:
      return "(nil)";
    case Type::kMap:
      s = "{";
      for (size_t i = 0; i + 1 < elems.size(); i += 2) {
        if (i) s += ", ";
        s += elems[i].ToString() + ": " + elems[i + 1].ToString();
      }
      return s + "}";
    case Type::kArray:
    case Type::kSet:
    case Type::kPush:
      s = "[";
      for (size_t i = 0; i < elems.size(); ++i) {
        if (i) s += ", ";
        s += elems[i].ToString();
      }
      return s + "]";
  }
  return s;
}

CommandRunner::Client::Client(Dispatcher* dispatcher, const SessionOptions& options)
    : session_(dispatcher, "127.0.0.1:1", "127.0.0.1:6379", options) {}

RespValue CommandRunner::Client::Run(const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  std::string request;
  protocol::resp::AppendRequest(views, &request);
  std::vector<RespValue> replies = Feed(request);
  if (replies.size() != 1) {
    RespValue v;
    v.type = RespValue::Type::kError;
    v.str = "TEST expected exactly one reply, got " + std::to_string(replies.size());
    return v;
  }
  return std::move(replies[0]);
}

RespValue CommandRunner::Client::Run(std::initializer_list<std::string_view> args) {
  return Run(std::vector<std::string>(args.begin(), args.end()));
}

std::vector<RespValue> CommandRunner::Client::Feed(std::string_view bytes, bool* closed) {
  input_.append(bytes);
  bool close = false;
  while (true) {
    const RespSession::Outcome o = session_.Process(&input_, &output_);
    if (o == RespSession::Outcome::kYield) continue;
    close = o == RespSession::Outcome::kClose || o == RespSession::Outcome::kAbort;
    break;
  }
  if (closed) *closed = close;
  std::vector<RespValue> replies;
  size_t pos = 0;
  while (pos < output_.size()) {
    RespValue v;
    if (!DecodeResp(output_, &pos, &v)) break;
    replies.push_back(std::move(v));
  }
  output_.clear();
  return replies;
}

CommandRunner::CommandRunner(storage::Store* store, EngineOptions options,
                             telemetry::Registry* registry)
    : engine_(std::make_unique<Engine>(store, std::move(options))),
      dispatcher_(std::make_unique<Dispatcher>(engine_.get(), registry)),
      main_(std::make_unique<Client>(dispatcher_.get(), SessionOptions{})) {
  const Status s = engine_->OpenVectors();
  SKEG_CHECK(s.ok());
}

CommandRunner::~CommandRunner() = default;

std::unique_ptr<CommandRunner::Client> CommandRunner::NewClient(const SessionOptions& options) {
  return std::make_unique<Client>(dispatcher_.get(), options);
}

}  // namespace skeg::server::testing
