// TEMPORARY PING-only native-protocol handler, used by the native listener until the native
// protocol layer (src/protocol/native) lands. It exists so the native listener can be probed
// (a native PING frame). Delete this file once the native protocol dispatches through the
// command table.
//
// Native (spec/NATIVE_PROTOCOL.md): validates the 24-byte header (a broken header closes the
// connection), answers PING (0x80) with an empty Ok frame and every other known op with an Err
// frame (code Internal, "not implemented yet").
//
// A pure function of bytes: they never block and keep no state between calls beyond
// what the caller keeps in its buffer. Thread-safety: none needed (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace skeg::server::temp {

// What one call consumed and whether the connection must be closed after `out` is written.
struct HandleResult {
  size_t consumed = 0;  // bytes of `input` fully handled; keep the rest for the next call
  bool close = false;   // protocol error or QUIT: write `out`, then close
};

// Handles every complete native frame at the front of `input`, appending responses to `out`.
HandleResult HandleNative(std::string_view input, std::string* out);

// Native frame constants (spec/NATIVE_PROTOCOL.md "Frame header").
inline constexpr size_t kNativeHeaderBytes = 24;
inline constexpr uint16_t kNativeMagic = 0x564B;
inline constexpr uint8_t kNativeVersion = 1;
inline constexpr uint32_t kNativeMaxPayloadBytes = 16u << 20;
inline constexpr uint8_t kNativeOpPing = 0x80;
inline constexpr uint8_t kNativeOpOk = 0xC0;
inline constexpr uint8_t kNativeOpErr = 0xC1;

}  // namespace skeg::server::temp
