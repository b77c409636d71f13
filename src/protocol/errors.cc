#include "protocol/errors.h"

#include <array>

namespace skeg::protocol {
namespace {

using enum NativeErrorCode;

// Indexed by StatusCode; ErrorTableIsInEnumOrder in errors_test.cc keeps it that way.
constexpr std::array<ErrorMapping, 14> kTable = {{
    {StatusCode::kOk, "ERR", kInternal},
    {StatusCode::kNotFound, "ERR", kNotFound},
    {StatusCode::kAlreadyExists, "ERR", kInvalidRequest},
    {StatusCode::kInvalidArgument, "ERR", kInvalidRequest},
    {StatusCode::kWrongType, "WRONGTYPE", kInvalidRequest},
    {StatusCode::kCorruption, "ERR", kInternal},
    {StatusCode::kIOError, "ERR", kInternal},
    {StatusCode::kResourceExhausted, "OOM", kQuotaExceeded},
    {StatusCode::kUnauthenticated, "NOAUTH", kUnauthorized},
    {StatusCode::kPermissionDenied, "NOPERM", kUnauthorized},
    {StatusCode::kBusy, "BUSY", kInternal},
    {StatusCode::kNotSupported, "ERR", kInvalidRequest},
    {StatusCode::kCancelled, "ERR", kInternal},
    {StatusCode::kInternal, "ERR", kInternal},
}};

static_assert(static_cast<size_t>(StatusCode::kInternal) + 1 == kTable.size(),
              "every StatusCode needs exactly one row in kTable");

constexpr std::array<std::string_view, 25> kKnownPrefixes = {
    "ERR",        "WRONGTYPE",   "NOAUTH",   "WRONGPASS", "NOPERM",    "OOM",     "BUSY",
    "BUSYKEY",    "EXECABORT",   "LOADING",  "READONLY",  "NOSCRIPT",  "NOPROTO", "MISCONF",
    "NOREPLICAS", "CROSSSLOT",   "TRYAGAIN", "NOTBUSY",   "UNBLOCKED", "NOGROUP", "BUSYGROUP",
    "MASTERDOWN", "CLUSTERDOWN", "MOVED",    "ASK",
};

const ErrorMapping& Row(StatusCode code) {
  const auto i = static_cast<size_t>(code);
  // Out-of-range values can only come from a memory error or a bad cast; map them to kInternal.
  return i < kTable.size() ? kTable[i] : kTable[static_cast<size_t>(StatusCode::kInternal)];
}

}  // namespace

std::string_view NativeErrorCodeName(NativeErrorCode code) {
  switch (code) {
    case kNotFound:
      return "NotFound";
    case kInvalidRequest:
      return "InvalidRequest";
    case kInternal:
      return "Internal";
    case kUnauthorized:
      return "Unauthorized";
    case kQuotaExceeded:
      return "QuotaExceeded";
    case kReadOnly:
      return "ReadOnly";
  }
  return "Unknown";
}

std::span<const ErrorMapping> ErrorTable() { return kTable; }

std::string_view RespErrorPrefix(StatusCode code) { return Row(code).resp_prefix; }

NativeErrorCode NativeErrorFor(StatusCode code) { return Row(code).native; }

bool HasErrorPrefix(std::string_view message) {
  const std::string_view word = message.substr(0, message.find(' '));
  for (std::string_view prefix : kKnownPrefixes) {
    if (word == prefix) return true;
  }
  for (const ErrorMapping& row : kTable) {
    if (word == row.resp_prefix) return true;
  }
  return false;
}

std::string ErrorText(const Status& status) {
  if (status.ok()) return "ERR internal error: OK status reported as an error";
  const std::string_view message = status.message();
  if (HasErrorPrefix(message)) return std::string(message);
  const std::string_view prefix = RespErrorPrefix(status.code());
  std::string text;
  text.reserve(prefix.size() + 1 + message.size());
  text.append(prefix);
  if (!message.empty()) {
    text.push_back(' ');
    text.append(message);
  }
  return text;
}

}  // namespace skeg::protocol
