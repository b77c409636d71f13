// Argument parsing helpers with Redis's exact acceptance rules, shared by the command
// families. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ascii.h"

namespace skeg::server {

std::string AsciiUpper(std::string_view s);

// Redis string2ll: optional '-', no '+', no blanks, no leading zeros ("0" alone is fine, "-0"
// is not), must fit in int64. nullopt otherwise.
std::optional<int64_t> ParseInt64(std::string_view text);

// Redis string2ld (INCRBYFLOAT): strtold of the whole text, no leading blank, not NaN,
// at most 5 KiB. nullopt otherwise.
std::optional<long double> ParseLongDouble(std::string_view text);

// Redis ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros (and a trailing '.') removed;
// "-0" becomes "0". The text INCRBYFLOAT stores and returns.
std::string FormatLongDouble(long double value);

// Decimal text of an integer.
std::string Int64Text(int64_t value);

// Redis's "unknown command" error text (quoting limits and all):
//   ERR unknown command 'foo', with args beginning with: 'a' 'b'
std::string UnknownCommandError(std::string_view name, const std::string_view* args, size_t n);

}  // namespace skeg::server
