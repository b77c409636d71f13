// SSE4.2 CRC32C. This translation unit alone is compiled with -msse4.2; crc32c.cc calls it only
// after CPUID reported the instruction.
#include <nmmintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace skeg::crc32c::internal {

uint32_t ExtendSse42(uint32_t init, const char* data, size_t n) {
  uint64_t crc = ~init;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, data, 8);
    crc = _mm_crc32_u64(crc, w);
    data += 8;
    n -= 8;
  }
  auto c = static_cast<uint32_t>(crc);
  while (n-- > 0) c = _mm_crc32_u8(c, static_cast<uint8_t>(*data++));
  return ~c;
}

}  // namespace skeg::crc32c::internal
