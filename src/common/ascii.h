// ASCII case helpers for protocol keywords and option names (never for user data).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace skeg {

inline char AsciiToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// True when `a` and `b` are equal ignoring ASCII case ("GET" == "get").
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiToLower(a[i]) != AsciiToLower(b[i])) return false;
  }
  return true;
}

// `s` with ASCII letters lower-cased.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiToLower(c);
  return out;
}

}  // namespace skeg
