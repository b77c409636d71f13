// The one table that turns a skeg::Status into a wire error.
//
// Every handler reports failure as a Status. At the protocol edge that Status becomes either a
// RESP error line ("-<PREFIX> <message>\r\n") or a native-protocol Err frame carrying a
// NativeErrorCode. Both translations come from the single table in errors.cc, so adding a
// StatusCode means adding exactly one row there (errors_test.cc checks that every code has a
// row).
//
// The table (StatusCode -> RESP prefix, native code):
//
//   kOk                -> ERR        Internal        (a bug: OK is never an error)
//   kNotFound          -> ERR        NotFound
//   kAlreadyExists     -> ERR        InvalidRequest
//   kInvalidArgument   -> ERR        InvalidRequest
//   kWrongType         -> WRONGTYPE  InvalidRequest
//   kCorruption        -> ERR        Internal        (storage bytes failed validation)
//   kIOError           -> ERR        Internal
//   kResourceExhausted -> OOM        QuotaExceeded   (memory, quota or disk space)
//   kUnauthenticated   -> NOAUTH     Unauthorized
//   kPermissionDenied  -> NOPERM     Unauthorized
//   kBusy              -> BUSY       Internal
//   kNotSupported      -> ERR        InvalidRequest
//   kCancelled         -> ERR        Internal
//   kInternal          -> ERR        Internal
//
// kResourceExhausted uses "OOM": the Redis prefix for "a resource limit refused this command",
// which memory admission, quotas and a full disk have in common.
//
// Thread-safety: everything here is a pure function over constant data.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skeg::protocol {

// Error codes of the native protocol's Err frame ([u8 code][u8 msg_len][msg]), with the exact
// numbers of spec/NATIVE_PROTOCOL.md "Errors".
enum class NativeErrorCode : uint8_t {
  kNotFound = 0x01,        // missing key, id or index
  kInvalidRequest = 0x02,  // payload does not parse or is semantically invalid
  kInternal = 0x03,        // storage failure (I/O error, disk full)
  kUnauthorized = 0x04,    // AUTH failed or authentication required [ext]
  kQuotaExceeded = 0x05,   // a tenant quota would be exceeded [ext]
  kReadOnly = 0x06,        // a write on a server in serve mode [ext]
};

// "NotFound", "InvalidRequest", ... ("Unknown" for values outside the enum).
std::string_view NativeErrorCodeName(NativeErrorCode code);

// One row of the table.
struct ErrorMapping {
  StatusCode code;
  std::string_view resp_prefix;  // upper-case, no leading '-', no trailing space
  NativeErrorCode native;
};

// The whole table, one row per StatusCode in enum order. Static storage.
std::span<const ErrorMapping> ErrorTable();

// The RESP error prefix for `code` ("ERR", "WRONGTYPE", ...). Static storage.
std::string_view RespErrorPrefix(StatusCode code);

// The native error code for `code`.
NativeErrorCode NativeErrorFor(StatusCode code);

// True when the first word of `message` (up to the first space) is a well-known Redis error
// prefix (ERR, WRONGTYPE, NOAUTH, WRONGPASS, NOPERM, OOM, BUSY, READONLY, EXECABORT, ...; the
// closed list is in errors.cc). A closed list, not "any upper-case word", so that messages
// starting with an acronym ("CRC mismatch") still get a prefix.
bool HasErrorPrefix(std::string_view message);

// The full RESP error text for a non-OK status, without the leading '-' and trailing CRLF:
//   Status::InvalidArgument("syntax error")          -> "ERR syntax error"
//   Status::WrongType("Operation against a key...")  -> "WRONGTYPE Operation against a key..."
//   Status::Unauthenticated("NOAUTH Authentication required.")
//                                                    -> "NOAUTH Authentication required."
// The message is used verbatim when HasErrorPrefix() says it already carries a prefix;
// otherwise "<RespErrorPrefix(code)> <message>" (just the prefix when the message is empty).
// An OK status (a caller bug) yields "ERR internal error: OK status reported as an error".
std::string ErrorText(const Status& status);

// Well-known Redis 7 error texts, byte-exact, for handlers to reply with directly.
namespace errors {
inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
inline constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
}  // namespace errors

}  // namespace skeg::protocol
