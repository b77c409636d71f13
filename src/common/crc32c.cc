#include "common/crc32c.h"

#include <array>

#include "common/coding.h"

namespace skeg::crc32c {

namespace internal {
// Defined in crc32c_sse42.cc (compiled with -msse4.2); only called when the CPU has SSE4.2.
uint32_t ExtendSse42(uint32_t init, const char* data, size_t n);
}  // namespace internal

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b) {
      for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
  }
};
constexpr Tables kTables;

bool DetectSse42() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

const bool kHasSse42 = DetectSse42();

}  // namespace

uint32_t ExtendPortable(uint32_t init, const char* data, size_t n) {
  const auto& t = kTables.t;
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  uint32_t crc = ~init;
  while (n >= 8) {
    uint64_t w = DecodeFixed64(reinterpret_cast<const char*>(p)) ^ crc;
    crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
          t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

bool IsHardwareAccelerated() { return kHasSse42; }

uint32_t Extend(uint32_t init, const char* data, size_t n) {
  return kHasSse42 ? internal::ExtendSse42(init, data, n) : ExtendPortable(init, data, n);
}

}  // namespace skeg::crc32c
