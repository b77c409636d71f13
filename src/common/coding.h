// Little-endian fixed-width encoding and decoding of integers into byte buffers.
//
// Every on-disk and wire format in skeg is little-endian. These helpers use memcpy, so they
// are safe at any alignment and compile to single loads/stores on x86_64.
//
// Thread-safety: pure functions.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace skeg {

static_assert(std::endian::native == std::endian::little,
              "skeg's formats are little-endian; a big-endian port needs byte swaps here");

// Stores `v` at `dst` (REQUIRES: dst has sizeof(T) writable bytes).
template <typename T>
inline void EncodeFixed(char* dst, T v) {
  static_assert(std::is_integral_v<T>);
  std::memcpy(dst, &v, sizeof(T));
}
inline void EncodeFixed16(char* dst, uint16_t v) { EncodeFixed(dst, v); }
inline void EncodeFixed32(char* dst, uint32_t v) { EncodeFixed(dst, v); }
inline void EncodeFixed64(char* dst, uint64_t v) { EncodeFixed(dst, v); }

// Loads a T from `src` (REQUIRES: src has sizeof(T) readable bytes).
template <typename T>
inline T DecodeFixed(const char* src) {
  static_assert(std::is_integral_v<T>);
  T v;
  std::memcpy(&v, src, sizeof(T));
  return v;
}
inline uint16_t DecodeFixed16(const char* src) { return DecodeFixed<uint16_t>(src); }
inline uint32_t DecodeFixed32(const char* src) { return DecodeFixed<uint32_t>(src); }
inline uint64_t DecodeFixed64(const char* src) { return DecodeFixed<uint64_t>(src); }

// Appends the encoding of `v` to `dst`.
inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  EncodeFixed32(buf, v);
  dst->append(buf, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeFixed64(buf, v);
  dst->append(buf, 8);
}

// Sequential reader over a byte span. Every Get* returns false (and consumes nothing) when
// fewer bytes remain than requested, so decoders of untrusted input check each step.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  size_t remaining() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  bool GetFixed32(uint32_t* v) { return GetFixed(v); }
  bool GetFixed64(uint64_t* v) { return GetFixed(v); }
  bool GetFixed8(uint8_t* v) { return GetFixed(v); }
  bool GetFixed16(uint16_t* v) { return GetFixed(v); }
  // A view of the next `n` bytes (valid as long as the underlying buffer).
  bool GetBytes(size_t n, std::string_view* out) {
    if (data_.size() < n) return false;
    *out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }

 private:
  template <typename T>
  bool GetFixed(T* v) {
    if (data_.size() < sizeof(T)) return false;
    *v = DecodeFixed<T>(data_.data());
    data_.remove_prefix(sizeof(T));
    return true;
  }
  std::string_view data_;
};

}  // namespace skeg
