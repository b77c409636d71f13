// Native binary protocol v1: frame header, opcodes, flags, the resumable frame parser and the
// frame encoder. The contract is spec/NATIVE_PROTOCOL.md (frozen); docs/formats/native.md
// mirrors it with the limits of this codec. Typed payloads live in messages.h.
//
// Frame header, 24 bytes, little-endian:
//
//   offset size field        rule
//   0      2    magic (u16)  0x564B, on the wire "4B 56"
//   2      1    version (u8) 1
//   3      1    op (u8)      Opcode below
//   4      4    flags (u32)  Flag bits below; bits 8..31 are unknown -> fatal
//   8      8    req_id (u64) chosen by the client, echoed in the response
//   16     4    payload_len  bytes after the header, at most kMaxPayloadBytes (16 MiB)
//   20     4    reserved     written 0, ignored on read
//
// Two classes of errors, as the spec demands:
//   * A broken header (bad magic, bad version, unknown op, unknown flag bit, payload_len over
//     the limit) is connection-fatal: FrameParser::Parse() returns kError with a kCorruption
//     Status and the connection must be closed. Nothing after it can be trusted.
//   * Everything about a frame whose header is valid (reserved flag bits set, a response-only
//     op in a request, a payload that does not parse, a bad LZ4 block) is a per-request error:
//     the frame has been consumed, the decoders in messages.h return kInvalidArgument, the
//     server answers with an Err InvalidRequest frame and the connection stays usable.
//
// Ownership: the parser never copies or owns input bytes; Frame::payload is a view into the
// caller's buffer. DecodePayload() writes decompressed bytes into a caller-owned scratch string.
//
// Thread-safety: FrameParser is a value with no shared state (one per connection); all free
// functions are pure. Nothing here does I/O, allocates before bounds checks, or throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skeg::protocol::native {

inline constexpr uint16_t kMagic = 0x564B;
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 24;
// Largest payload_len, and largest uncompressed size of a COMPRESSED_LZ4 payload.
inline constexpr uint32_t kMaxPayloadBytes = 16u << 20;  // 16 777 216
// Err messages are cut to this many bytes (u8 msg_len).
inline constexpr size_t kMaxErrorMessageBytes = 255;

enum class Opcode : uint8_t {
  kGet = 0x01,
  kSet = 0x02,
  kDel = 0x03,
  kMGet = 0x04,
  kMSet = 0x05,
  kExists = 0x06,
  kMExists = 0x07,
  kVIndexCreate = 0x10,
  kVIndexDrop = 0x11,
  kVSet = 0x12,
  kVGet = 0x13,
  kVDel = 0x14,
  kVSearch = 0x15,
  kVIndexList = 0x16,
  kPing = 0x80,
  kStats = 0x81,
  kFlush = 0x82,
  kShards = 0x83,
  kAuth = 0x84,    // [ext]
  kWhoAmI = 0x85,  // [ext]
  // Response-only. A request carrying one of these is answered with Err InvalidRequest.
  kOk = 0xC0,
  kErr = 0xC1,
  kContinued = 0xC2,  // reserved
};

// True for every opcode in the table above (requests and responses).
bool IsKnownOpcode(uint8_t op);
// True for kOk, kErr and kContinued.
bool IsResponseOpcode(Opcode op);
// "GET", "VINDEX_CREATE", "OK", ... ("UNKNOWN" for other values). Static storage.
std::string_view OpcodeName(Opcode op);

// Flag bits (header offset 4).
inline constexpr uint32_t kFlagWaitDurable = 1u << 0;
inline constexpr uint32_t kFlagNoReply = 1u << 1;
inline constexpr uint32_t kFlagBatch = 1u << 2;     // reserved in v1 -> Err InvalidRequest
inline constexpr uint32_t kFlagBatchEnd = 1u << 3;  // reserved in v1 -> Err InvalidRequest
inline constexpr uint32_t kFlagCompressedLz4 = 1u << 4;
inline constexpr uint32_t kFlagContinuation = 1u << 5;  // reserved in v1 -> Err InvalidRequest
inline constexpr uint32_t kFlagSetNx = 1u << 6;
inline constexpr uint32_t kFlagSetXx = 1u << 7;
// Bits a v1 peer may send; any other bit in a header is connection-fatal.
inline constexpr uint32_t kKnownFlagsMask = 0xFF;
// Known bits that v1 reserves; set on a request they are a per-request InvalidRequest.
inline constexpr uint32_t kReservedFlagsMask = kFlagBatch | kFlagBatchEnd | kFlagContinuation;

// True when a server must stay silent on success: NO_REPLY is set and `op` is one of the ops
// the spec lists for it (SET, MSET, VSET, DEL, VDEL). Errors are always sent.
bool SuppressesReply(Opcode op, uint32_t flags);

struct FrameHeader {
  Opcode op = Opcode::kPing;
  uint32_t flags = 0;
  uint64_t req_id = 0;
  uint32_t payload_len = 0;
};

// A complete frame. `payload` views the caller's input buffer (see FrameParser) and is still
// LZ4-compressed when header.flags has kFlagCompressedLz4; use DecodePayload().
struct Frame {
  FrameHeader header;
  std::string_view payload;
};

// Writes the 24 header bytes of `header` to `dst`. REQUIRES: dst has kHeaderBytes bytes.
void EncodeHeader(const FrameHeader& header, char* dst);

// Validates and decodes a 24-byte header against the limits of the spec (max_payload_bytes
// may only lower the limit). Errors (kCorruption, connection-fatal): bad magic, bad version,
// unknown op, unknown flag bit, payload_len over the limit.
// REQUIRES: bytes.size() >= kHeaderBytes.
Result<FrameHeader> DecodeHeader(std::string_view bytes,
                                 uint32_t max_payload_bytes = kMaxPayloadBytes);

enum class ParseStatus : uint8_t { kFrame, kNeedMore, kError };

struct ParseResult {
  ParseStatus status;
  // On kFrame: kHeaderBytes + payload_len, the bytes the caller drops after using the frame.
  // 0 on kNeedMore and kError.
  size_t consumed;
};

struct ParserOptions {
  // Largest accepted payload_len. May lower, never raise, the spec's 16 MiB (a frame over
  // the spec's limit is always fatal).
  uint32_t max_payload_bytes = kMaxPayloadBytes;
  // InvalidArgument when 0 or above kMaxPayloadBytes.
  [[nodiscard]] Status Validate() const;
};

// Splits a byte stream into frames. Buffer contract (the same as RespParser's): the caller
// owns a growable input buffer and calls Parse(unconsumed_bytes, &frame):
//   kFrame    a complete frame; its payload views input[kHeaderBytes, consumed). The caller
//             handles it, then drops `consumed` bytes and may call again for the next
//             pipelined frame.
//   kNeedMore more bytes are needed (RequiredInputBytes() says how many in total); nothing is
//             consumed; call again with the same bytes extended.
//   kError    a connection-fatal header error (error() has it); sticky until Reset().
// Errors are reported as early as the bytes allow: a bad magic byte fails at once, a bad
// header as soon as its 24 bytes are present, before the payload arrives. Because frames are
// length-prefixed, a frame split at any byte boundary parses exactly as if it came in one piece.
//
// Views: Frame::payload stays valid while the caller keeps the consumed bytes unchanged.
// Thread-safety: none; one parser per connection.
class FrameParser {
 public:
  // REQUIRES: options.Validate().ok().
  explicit FrameParser(const ParserOptions& options = {});

  FrameParser(const FrameParser&) = delete;
  FrameParser& operator=(const FrameParser&) = delete;

  ParseResult Parse(std::string_view input, Frame* out);

  // After kError: the fatal error (kCorruption). OK otherwise.
  const Status& error() const { return error_; }

  // After kNeedMore: the total input size needed to make progress (kHeaderBytes until the
  // header is complete, then kHeaderBytes + payload_len). Lets a connection reserve once.
  size_t RequiredInputBytes() const { return required_; }

  // Forgets a sticky error.
  void Reset();

 private:
  ParserOptions options_;
  Status error_;
  size_t required_ = kHeaderBytes;
};

// Appends one frame to `out`: the header (payload_len filled in) and the payload. When
// `flags` has kFlagCompressedLz4 the payload is LZ4-compressed first, as
// [u32 uncompressed_len][lz4 block].
// Errors (kInvalidArgument; nothing is appended): unknown flag bits, payload (uncompressed)
// over kMaxPayloadBytes, compressed payload over kMaxPayloadBytes.
[[nodiscard]] Status AppendFrame(Opcode op, uint32_t flags, uint64_t req_id,
                                 std::string_view payload, std::string* out);

// The payload of `frame` ready to parse: frame.payload itself, or, with kFlagCompressedLz4,
// the decompressed bytes written to `*scratch` (cleared first; the view points into it and
// stays valid until *scratch changes).
// Errors (kInvalidArgument, per request): the [u32 uncompressed_len] prefix missing, the
// declared size over kMaxPayloadBytes (checked before allocating), a corrupt LZ4 block or one
// whose output size differs from the declared size.
Result<std::string_view> DecodePayload(const Frame& frame, std::string* scratch);

// LZ4 block helpers used by the above (exposed for tests and clients).
// Appends [u32 uncompressed_len][lz4 block] for `raw`. Errors: raw over kMaxPayloadBytes.
[[nodiscard]] Status CompressLz4(std::string_view raw, std::string* out);
// Decompresses [u32 uncompressed_len][lz4 block] into *out (replaced). Errors as
// DecodePayload().
[[nodiscard]] Status DecompressLz4(std::string_view compressed, std::string* out);

}  // namespace skeg::protocol::native
