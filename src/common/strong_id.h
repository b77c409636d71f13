// Strong integer ids: distinct types for distinct id spaces so they cannot be mixed.
//
//   enum class SegmentId : uint32_t {};
//   SegmentId s = MakeId<SegmentId>(7);  uint32_t raw = IdValue(s);
//
// A scoped enum is the whole mechanism: no implicit conversions, same size and ABI as the
// underlying integer, usable as a hash key through IdHash.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>

namespace skeg {

template <typename Id>
requires std::is_enum_v<Id>
constexpr Id MakeId(std::underlying_type_t<Id> v) { return static_cast<Id>(v); }

template <typename Id>
requires std::is_enum_v<Id>
constexpr std::underlying_type_t<Id> IdValue(Id id) {
  return static_cast<std::underlying_type_t<Id>>(id);
}

struct IdHash {
  template <typename Id>
  requires std::is_enum_v<Id> size_t operator()(Id id) const {
    return std::hash<std::underlying_type_t<Id>>()(IdValue(id));
  }
};

// Ids used across modules.
enum class SegmentId : uint32_t {};       // value-log segment file number
enum class SequenceNumber : uint64_t {};  // global write order of value-log records

}  // namespace skeg
