// Payload filters for vector search: the compact in-RAM form of a vector's payload and the
// FILTER expression language of spec/COMMANDS.md ("Vectors").
//
// Payloads. A payload is free text; its whitespace-separated tokens of the form `field=value`
// (split at the first '=', field non-empty) are its attributes, other tokens are ignored. A
// value that parses as a signed 64-bit decimal integer (std::from_chars: optional '-', digits,
// leading zeros allowed, no '+') is an integer, anything else a keyword. A field may repeat
// (`tag=a tag=b`): a test on it holds when any of its values satisfies it. ParsePayload()
// turns a payload into PayloadTokens: 16 bytes per attribute (hashes, not text), which is what
// the flat index keeps per vector so that filtered scans never touch the disk. Keywords are
// compared by their 64-bit XXH3 hash, so two distinct keywords compare equal with probability
// 2^-64 per pair (accepted; documented in docs/vectors.md).
//
// Expressions (keywords case-insensitive):
//   expr := and (OR and)*          and := not (AND not)*          not := [NOT] atom
//   atom := '(' expr ')' | f = v | f IN (v, ...) | f > n | f >= n | f < n | f <= n
//         | f BETWEEN a AND b | f EXISTS
// f and v are bare words (any bytes but whitespace and ( ) , = < > ") or double-quoted strings
// (backslash escapes '"' and '\'); a quoted word is never a keyword. `f = v` compares as an
// integer when v parses as one and as a keyword otherwise. The ordered comparisons and BETWEEN
// take integers (an error otherwise) and never match keyword values; BETWEEN is inclusive.
//
// Limits: an expression of at most kMaxFilterBytes bytes and kMaxFilterDepth nested levels.
//
// Errors: ParseFilter returns kInvalidArgument with the reason, e.g. "expected ')' at offset
// 12"; the server prefixes it with "bad FILTER: ".
//
// Thread-safety: a Filter is immutable after parsing; Matches() may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skeg::index {

// One `field=value` attribute of a payload, in 16 bytes.
struct PayloadToken {
  // Bits 63..1: the top 63 bits of XXH3(field name); bit 0: 1 when the value is an integer.
  uint64_t field_and_type = 0;
  // The integer (two's complement) or XXH3(keyword).
  uint64_t value = 0;

  bool is_int() const { return (field_and_type & 1) != 0; }
  uint64_t field() const { return field_and_type & ~uint64_t{1}; }
  bool operator==(const PayloadToken&) const = default;
};

// The hashed field key of `name` as stored in PayloadToken::field().
uint64_t FieldKey(std::string_view name);

// Appends the attributes of `payload` to *out (which is not cleared).
void ParsePayload(std::string_view payload, std::vector<PayloadToken>* out);

inline constexpr size_t kMaxFilterBytes = 64 * 1024;
inline constexpr size_t kMaxFilterDepth = 64;

// A parsed FILTER expression.
class Filter {
 public:
  // Parses `text`. Errors: kInvalidArgument with the reason (no "bad FILTER" prefix).
  static Result<Filter> Parse(std::string_view text);

  // Whether a payload with these attributes satisfies the expression.
  bool Matches(std::span<const PayloadToken> tokens) const;

  // Number of nodes (for tests and limits).
  size_t node_count() const { return nodes_.size(); }

 private:
  friend class FilterParser;
  // Ordered comparisons become kBetween over [lo, hi] (`> n` is [n+1, INT64_MAX], ...).
  enum class Op : uint8_t { kOr, kAnd, kNot, kEq, kIn, kBetween, kExists };
  struct Node {
    Op op = Op::kExists;
    bool is_int = false;  // kEq: compare as integer
    uint64_t field = 0;   // leaves: FieldKey
    int64_t lo = 0;       // kBetween: inclusive bounds
    int64_t hi = 0;
    uint64_t value = 0;  // kEq: the integer bits or the keyword hash
    uint32_t first = 0;  // kOr/kAnd/kNot: first child in children_; kIn: first in values_
    uint32_t count = 0;  // number of children / values
  };
  struct InValue {
    bool is_int;
    uint64_t value;
  };

  bool Eval(uint32_t node, std::span<const PayloadToken> tokens) const;

  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;
  std::vector<InValue> values_;
  uint32_t root_ = 0;
};

}  // namespace skeg::index
