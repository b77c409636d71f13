// Request: one parsed client request, independent of the wire protocol.
//
// A request is the list of arguments a client sent; args()[0] is the command name exactly as
// sent (case is not normalised here). Parsers (RESP, native) fill a Request with views, never
// copies: each argument is a std::string_view into memory owned by someone else, either the
// caller's input buffer or the parser's own scratch space. See the parser's Parse() contract
// for exactly how long the views stay valid (for RespParser: until the next Parse()/Reset()
// on that parser, and until the caller modifies or frees the consumed input bytes).
//
// Ownership: the Request owns only its vector of views. Clear() keeps the vector's capacity,
// so a connection that reuses one Request for every command allocates nothing in steady state.
//
// Thread-safety: a value type; one Request belongs to one connection/thread.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "common/check.h"

namespace skeg::protocol {

class Request {
 public:
  Request() = default;

  // Copying copies the views, not the bytes they point to; the copy has the same lifetime
  // limits as the original.
  Request(const Request&) = default;
  Request& operator=(const Request&) = default;
  Request(Request&&) noexcept = default;
  Request& operator=(Request&&) noexcept = default;

  // Number of arguments, including the command name.
  size_t size() const { return args_.size(); }
  bool empty() const { return args_.empty(); }

  // The i-th argument. REQUIRES: i < size().
  std::string_view operator[](size_t i) const {
    SKEG_DCHECK(i < args_.size());
    return args_[i];
  }

  // The command name (first argument). REQUIRES: !empty().
  std::string_view command() const {
    SKEG_DCHECK(!args_.empty());
    return args_[0];
  }

  // All arguments, command name first. The span is invalidated by Clear()/Append().
  std::span<const std::string_view> args() const { return args_; }
  auto begin() const { return args_.begin(); }
  auto end() const { return args_.end(); }

  // Removes every argument but keeps the allocated capacity for the next request.
  void Clear() { args_.clear(); }

  // Appends one argument view. The caller guarantees the viewed bytes outlive their use.
  // Allocates only when the capacity reached by earlier requests is exceeded.
  void Append(std::string_view arg) { args_.push_back(arg); }

  // Pre-sizes the argument vector (e.g. a connection expecting wide MSETs).
  void Reserve(size_t n) { args_.reserve(n); }

 private:
  std::vector<std::string_view> args_;
};

}  // namespace skeg::protocol
