#include "server/temp_protocols.h"

#include "common/coding.h"

namespace skeg::server::temp {
namespace {

void AppendNativeFrame(uint8_t op, uint64_t req_id, std::string_view payload, std::string* out) {
  char header[kNativeHeaderBytes] = {};
  EncodeFixed16(header, kNativeMagic);
  header[2] = static_cast<char>(kNativeVersion);
  header[3] = static_cast<char>(op);
  EncodeFixed32(header + 4, 0);
  EncodeFixed64(header + 8, req_id);
  EncodeFixed32(header + 16, static_cast<uint32_t>(payload.size()));
  EncodeFixed32(header + 20, 0);
  out->append(header, sizeof(header));
  out->append(payload);
}

void AppendNativeError(uint64_t req_id, uint8_t code, std::string_view message, std::string* out) {
  std::string payload;
  payload.push_back(static_cast<char>(code));
  message = message.substr(0, 255);
  payload.push_back(static_cast<char>(message.size()));
  payload.append(message);
  AppendNativeFrame(kNativeOpErr, req_id, payload, out);
}

bool IsKnownNativeOp(uint8_t op) {
  return (op >= 0x01 && op <= 0x07) || (op >= 0x10 && op <= 0x16) || (op >= 0x80 && op <= 0x85) ||
         (op >= 0xC0 && op <= 0xC2);
}

}  // namespace

HandleResult HandleNative(std::string_view input, std::string* out) {
  constexpr uint32_t kKnownFlags = 0xFF;  // bits 0..7
  constexpr uint32_t kReservedFlags = (1u << 2) | (1u << 3) | (1u << 5);
  HandleResult result;
  while (input.size() - result.consumed >= kNativeHeaderBytes) {
    const char* h = input.data() + result.consumed;
    const uint8_t version = static_cast<uint8_t>(h[2]);
    const uint8_t op = static_cast<uint8_t>(h[3]);
    const uint32_t flags = DecodeFixed32(h + 4);
    const uint64_t req_id = DecodeFixed64(h + 8);
    const uint32_t payload_len = DecodeFixed32(h + 16);
    // A broken header is unrecoverable: close without a reply.
    if (DecodeFixed16(h) != kNativeMagic || version != kNativeVersion || !IsKnownNativeOp(op) ||
        (flags & ~kKnownFlags) != 0 || payload_len > kNativeMaxPayloadBytes) {
      result.close = true;
      break;
    }
    if (input.size() - result.consumed - kNativeHeaderBytes < payload_len) break;
    result.consumed += kNativeHeaderBytes + payload_len;
    constexpr uint8_t kInvalidRequest = 0x02;
    constexpr uint8_t kInternal = 0x03;
    if ((flags & kReservedFlags) != 0 || op >= kNativeOpOk) {
      AppendNativeError(req_id, kInvalidRequest, "reserved flag or response op in a request", out);
    } else if (op == kNativeOpPing) {
      AppendNativeFrame(kNativeOpOk, req_id, {}, out);
    } else {
      AppendNativeError(req_id, kInternal, "not implemented yet", out);
    }
  }
  return result;
}

}  // namespace skeg::server::temp
