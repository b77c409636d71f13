// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of every skeg
// file format and of the native protocol.
//
// Uses the SSE4.2 `crc32` instruction when the CPU has it (chosen once, on first use, through
// platform-independent CPUID; see crc32c_sse42.cc), and a slicing-by-8 table otherwise. Both
// produce identical results; crc32c_test.cc checks them against each other and against the
// RFC 3720 test vectors.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace skeg::crc32c {

// Returns the CRC32C of data[0, n) continuing from the CRC `init` of the preceding bytes
// (Extend(Extend(0, a), b) == Value(a ++ b)).
uint32_t Extend(uint32_t init, const char* data, size_t n);

inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// Portable implementation, always available; exposed for tests and benchmarks.
uint32_t ExtendPortable(uint32_t init, const char* data, size_t n);

// True when Extend() uses the hardware instruction.
bool IsHardwareAccelerated();

// A stored CRC is masked so that a CRC computed over bytes that themselves contain CRCs
// does not degenerate (LevelDB's scheme: rotate right by 15 and add a constant).
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace skeg::crc32c
