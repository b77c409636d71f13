// StringMatch: Redis's glob-style pattern matching (util.c stringmatchlen), used by KEYS,
// SCAN MATCH and CONFIG GET.
//
// Pattern syntax, byte for byte as Redis 7: `*` any run of bytes (also empty), `?` one byte,
// `[abc]` one of a set, `[^abc]` none of a set, `[a-z]` ranges (either order), `\x` the byte x
// literally (also inside brackets). An unterminated `[` matches up to the end of the pattern;
// a trailing lone `\` matches a literal backslash. Matching is binary-safe (NUL bytes are
// ordinary bytes).
//
// Thread-safety: a pure function. Recursion is bounded (Redis's nesting limit for stars), so
// a hostile pattern cannot overflow the stack; it gets "no match" instead.
#pragma once

#include <string_view>

namespace skeg::server {

// True when `text` matches `pattern`. `nocase` folds ASCII case on both sides.
bool StringMatch(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace skeg::server
