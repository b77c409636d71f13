// Status and Result<T>: skeg's error values.
//
// Project code never throws. Every fallible function returns a `Status` (success or a code plus
// a message) or a `Result<T>` (a value or a non-OK Status). An OK Status holds no allocation,
// so returning success costs one pointer. The code set is short and closed; each code maps to
// exactly one RESP error prefix and one native-protocol error code (that table lives in
// protocol/, not here).
//
// Thread-safety: Status and Result are values; distinct objects may be used from distinct
// threads, a single object needs external synchronisation like any other value.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/check.h"

namespace skeg {

enum class StatusCode : uint8_t {
  kOk = 0,
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kWrongType,
  kCorruption,         // bytes read from disk or the network fail validation
  kIOError,            // the OS refused an I/O operation
  kResourceExhausted,  // memory, quota or disk space (ENOSPC)
  kUnauthenticated,
  kPermissionDenied,
  kBusy,  // a resource is held by someone else (data-dir lock)
  kNotSupported,
  kCancelled,
  kInternal,
};

// Returns the canonical name of `code` ("NotFound", "Corruption", ...).
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() noexcept = default;
  Status(StatusCode code, std::string_view message);

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status NotFound(std::string_view msg) { return {StatusCode::kNotFound, msg}; }
  static Status AlreadyExists(std::string_view msg) { return {StatusCode::kAlreadyExists, msg}; }
  static Status InvalidArgument(std::string_view msg) {
    return {StatusCode::kInvalidArgument, msg};
  }
  static Status WrongType(std::string_view msg) { return {StatusCode::kWrongType, msg}; }
  static Status Corruption(std::string_view msg) { return {StatusCode::kCorruption, msg}; }
  static Status IOError(std::string_view msg) { return {StatusCode::kIOError, msg}; }
  static Status ResourceExhausted(std::string_view msg) {
    return {StatusCode::kResourceExhausted, msg};
  }
  static Status Unauthenticated(std::string_view msg) {
    return {StatusCode::kUnauthenticated, msg};
  }
  static Status PermissionDenied(std::string_view msg) {
    return {StatusCode::kPermissionDenied, msg};
  }
  static Status Busy(std::string_view msg) { return {StatusCode::kBusy, msg}; }
  static Status NotSupported(std::string_view msg) { return {StatusCode::kNotSupported, msg}; }
  static Status Cancelled(std::string_view msg) { return {StatusCode::kCancelled, msg}; }
  static Status Internal(std::string_view msg) { return {StatusCode::kInternal, msg}; }

  // Maps an errno value from a failed syscall to a Status: ENOSPC/EDQUOT become
  // kResourceExhausted, ENOENT kNotFound, EEXIST kAlreadyExists, everything else kIOError.
  // The message is "<context>: <strerror(err)>".
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // Empty for OK.
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }

  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsCorruption() const { return code() == StatusCode::kCorruption; }
  bool IsIOError() const { return code() == StatusCode::kIOError; }
  bool IsResourceExhausted() const { return code() == StatusCode::kResourceExhausted; }
  bool IsInvalidArgument() const { return code() == StatusCode::kInvalidArgument; }
  bool IsBusy() const { return code() == StatusCode::kBusy; }

  // Returns a copy whose message is "<prefix>: <message>". OK stays OK.
  Status WithContext(std::string_view prefix) const;

  // "OK" or "<CodeName>: <message>".
  std::string ToString() const;

  // Explicitly discards a status whose failure the caller has decided not to act on.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

// A value of type T or a non-OK Status. Shaped like C++23 std::expected so a later move is
// mechanical: has_value(), operator bool, value(), error(), operator*, operator->.
template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok().
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    SKEG_CHECK(!std::get<Status>(v_).ok());
  }
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, Status> &&
           !std::is_same_v<std::decay_t<U>, T> && !std::is_same_v<std::decay_t<U>, Result>)
      Result(U&& value)
      : v_(T(std::forward<U>(value))) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return v_.index() == 0; }
  bool ok() const { return has_value(); }
  explicit operator bool() const { return has_value(); }

  // REQUIRES: has_value().
  T& value() & {
    SKEG_CHECK(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    SKEG_CHECK(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    SKEG_CHECK(has_value());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; OK when has_value().
  Status status() const { return has_value() ? Status() : std::get<1>(v_); }
  // REQUIRES: !has_value().
  const Status& error() const& { return std::get<1>(v_); }
  Status&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Status> v_;
};

namespace internal {
inline Status ToStatus(Status s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace skeg

#define SKEG_STATUS_CONCAT_INNER(a, b) a##b
#define SKEG_STATUS_CONCAT(a, b) SKEG_STATUS_CONCAT_INNER(a, b)

// Evaluates `expr` (a Status); returns it from the enclosing function when not OK.
#define SKEG_RETURN_IF_ERROR(expr)                                      \
  do {                                                                  \
    ::skeg::Status skeg_status_tmp_ = ::skeg::internal::ToStatus(expr); \
    if (!skeg_status_tmp_.ok()) return skeg_status_tmp_;                \
  } while (0)

// Evaluates `rexpr` (a Result<T>); on error returns its Status, else moves the value into `lhs`
// (which may be a declaration: `SKEG_ASSIGN_OR_RETURN(auto f, Open())`).
#define SKEG_ASSIGN_OR_RETURN(lhs, rexpr) \
  SKEG_ASSIGN_OR_RETURN_IMPL(SKEG_STATUS_CONCAT(skeg_result_, __LINE__), lhs, rexpr)
#define SKEG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr)    \
  auto tmp = (rexpr);                                  \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
