#include "protocol/native/frame.h"

#include <cstring>
#include <string>

#include <lz4.h>

#include "common/coding.h"

namespace skeg::protocol::native {

bool IsKnownOpcode(uint8_t op) {
  return (op >= 0x01 && op <= 0x07) || (op >= 0x10 && op <= 0x16) || (op >= 0x80 && op <= 0x85) ||
         (op >= 0xC0 && op <= 0xC2);
}

bool IsResponseOpcode(Opcode op) {
  return op == Opcode::kOk || op == Opcode::kErr || op == Opcode::kContinued;
}

std::string_view OpcodeName(Opcode op) {
  switch (op) {
    case Opcode::kGet:
      return "GET";
    case Opcode::kSet:
      return "SET";
    case Opcode::kDel:
      return "DEL";
    case Opcode::kMGet:
      return "MGET";
    case Opcode::kMSet:
      return "MSET";
    case Opcode::kExists:
      return "EXISTS";
    case Opcode::kMExists:
      return "MEXISTS";
    case Opcode::kVIndexCreate:
      return "VINDEX_CREATE";
    case Opcode::kVIndexDrop:
      return "VINDEX_DROP";
    case Opcode::kVSet:
      return "VSET";
    case Opcode::kVGet:
      return "VGET";
    case Opcode::kVDel:
      return "VDEL";
    case Opcode::kVSearch:
      return "VSEARCH";
    case Opcode::kVIndexList:
      return "VINDEX_LIST";
    case Opcode::kPing:
      return "PING";
    case Opcode::kStats:
      return "STATS";
    case Opcode::kFlush:
      return "FLUSH";
    case Opcode::kShards:
      return "SHARDS";
    case Opcode::kAuth:
      return "AUTH";
    case Opcode::kWhoAmI:
      return "WHOAMI";
    case Opcode::kOk:
      return "OK";
    case Opcode::kErr:
      return "ERR";
    case Opcode::kContinued:
      return "CONTINUED";
  }
  return "UNKNOWN";
}

bool SuppressesReply(Opcode op, uint32_t flags) {
  if ((flags & kFlagNoReply) == 0) return false;
  return op == Opcode::kSet || op == Opcode::kMSet || op == Opcode::kVSet || op == Opcode::kDel ||
         op == Opcode::kVDel;
}

void EncodeHeader(const FrameHeader& header, char* dst) {
  EncodeFixed16(dst, kMagic);
  dst[2] = static_cast<char>(kVersion);
  dst[3] = static_cast<char>(header.op);
  EncodeFixed32(dst + 4, header.flags);
  EncodeFixed64(dst + 8, header.req_id);
  EncodeFixed32(dst + 16, header.payload_len);
  EncodeFixed32(dst + 20, 0);
}

Result<FrameHeader> DecodeHeader(std::string_view bytes, uint32_t max_payload_bytes) {
  SKEG_DCHECK(bytes.size() >= kHeaderBytes);
  const char* h = bytes.data();
  if (DecodeFixed16(h) != kMagic) return Status::Corruption("native frame: bad magic");
  if (static_cast<uint8_t>(h[2]) != kVersion) {
    return Status::Corruption("native frame: unsupported version");
  }
  const uint8_t op = static_cast<uint8_t>(h[3]);
  if (!IsKnownOpcode(op)) return Status::Corruption("native frame: unknown op");
  FrameHeader header;
  header.op = static_cast<Opcode>(op);
  header.flags = DecodeFixed32(h + 4);
  if ((header.flags & ~kKnownFlagsMask) != 0) {
    return Status::Corruption("native frame: unknown flag bit");
  }
  header.req_id = DecodeFixed64(h + 8);
  header.payload_len = DecodeFixed32(h + 16);
  // Offset 20 is reserved: ignored on read.
  if (header.payload_len > max_payload_bytes) {
    return Status::Corruption("native frame: payload_len over the limit");
  }
  return header;
}

Status ParserOptions::Validate() const {
  if (max_payload_bytes == 0 || max_payload_bytes > kMaxPayloadBytes) {
    return Status::InvalidArgument("max_payload_bytes must be in [1, 16 MiB]");
  }
  return Status::Ok();
}

FrameParser::FrameParser(const ParserOptions& options) : options_(options) {
  SKEG_CHECK(options_.Validate().ok());
}

void FrameParser::Reset() {
  error_ = Status::Ok();
  required_ = kHeaderBytes;
}

ParseResult FrameParser::Parse(std::string_view input, Frame* out) {
  if (!error_.ok()) return {ParseStatus::kError, 0};
  if (input.size() < kHeaderBytes) {
    // Fail early on the bytes we have: a peer speaking another protocol (e.g. RESP) is
    // rejected on its first byte instead of waiting for 24.
    const auto* b = reinterpret_cast<const uint8_t*>(input.data());
    const bool bad = (input.size() > 0 && b[0] != (kMagic & 0xFF)) ||
                     (input.size() > 1 && b[1] != (kMagic >> 8)) ||
                     (input.size() > 2 && b[2] != kVersion) ||
                     (input.size() > 3 && !IsKnownOpcode(b[3]));
    if (!bad) {
      required_ = kHeaderBytes;
      return {ParseStatus::kNeedMore, 0};
    }
    std::string padded(input);
    padded.resize(kHeaderBytes, '\0');
    auto header = DecodeHeader(padded, options_.max_payload_bytes);
    SKEG_DCHECK(!header.has_value());
    error_ = header.status();
    return {ParseStatus::kError, 0};
  }
  auto header = DecodeHeader(input, options_.max_payload_bytes);
  if (!header.has_value()) {
    error_ = std::move(header).error();
    return {ParseStatus::kError, 0};
  }
  // payload_len <= 16 MiB, so the sum cannot overflow.
  const size_t total = kHeaderBytes + size_t{header->payload_len};
  if (input.size() < total) {
    required_ = total;
    return {ParseStatus::kNeedMore, 0};
  }
  out->header = *header;
  out->payload = input.substr(kHeaderBytes, header->payload_len);
  required_ = kHeaderBytes;
  return {ParseStatus::kFrame, total};
}

Status CompressLz4(std::string_view raw, std::string* out) {
  if (raw.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument("native frame: payload over 16 MiB");
  }
  const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
  const size_t start = out->size();
  out->resize(start + 4 + static_cast<size_t>(bound));
  EncodeFixed32(out->data() + start, static_cast<uint32_t>(raw.size()));
  const int n = LZ4_compress_default(raw.data(), out->data() + start + 4,
                                     static_cast<int>(raw.size()), bound);
  if (n <= 0) {  // Cannot happen with a bound-sized buffer; not a reason to crash.
    out->resize(start);
    return Status::Internal("LZ4 compression failed");
  }
  out->resize(start + 4 + static_cast<size_t>(n));
  return Status::Ok();
}

Status DecompressLz4(std::string_view compressed, std::string* out) {
  if (compressed.size() < 4) {
    return Status::InvalidArgument("COMPRESSED_LZ4 payload shorter than its u32 size prefix");
  }
  const uint32_t raw_len = DecodeFixed32(compressed.data());
  if (raw_len > kMaxPayloadBytes) {
    return Status::InvalidArgument("COMPRESSED_LZ4 uncompressed size over 16 MiB");
  }
  const std::string_view block = compressed.substr(4);
  // Each LZ4 input byte expands to at most 255 output bytes; reject impossible sizes before
  // allocating (a 30-byte frame cannot claim 16 MiB).
  if (uint64_t{raw_len} > uint64_t{block.size()} * 255 + 16) {
    return Status::InvalidArgument("COMPRESSED_LZ4 uncompressed size larger than the block allows");
  }
  out->resize(raw_len);
  const int n = LZ4_decompress_safe(block.data(), out->data(), static_cast<int>(block.size()),
                                    static_cast<int>(raw_len));
  if (n < 0 || static_cast<uint32_t>(n) != raw_len) {
    out->clear();
    return Status::InvalidArgument("COMPRESSED_LZ4 payload is not a valid LZ4 block of the size");
  }
  return Status::Ok();
}

Status AppendFrame(Opcode op, uint32_t flags, uint64_t req_id, std::string_view payload,
                   std::string* out) {
  if ((flags & ~kKnownFlagsMask) != 0) {
    return Status::InvalidArgument("native frame: unknown flag bit");
  }
  if (payload.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument("native frame: payload over 16 MiB");
  }
  const size_t start = out->size();
  out->resize(start + kHeaderBytes);
  if ((flags & kFlagCompressedLz4) != 0) {
    Status s = CompressLz4(payload, out);
    if (!s.ok()) {
      out->resize(start);
      return s;
    }
  } else {
    out->append(payload);
  }
  const size_t payload_len = out->size() - start - kHeaderBytes;
  if (payload_len > kMaxPayloadBytes) {
    out->resize(start);
    return Status::InvalidArgument("native frame: compressed payload over 16 MiB");
  }
  FrameHeader header;
  header.op = op;
  header.flags = flags;
  header.req_id = req_id;
  header.payload_len = static_cast<uint32_t>(payload_len);
  EncodeHeader(header, out->data() + start);
  return Status::Ok();
}

Result<std::string_view> DecodePayload(const Frame& frame, std::string* scratch) {
  if ((frame.header.flags & kFlagCompressedLz4) == 0) return frame.payload;
  SKEG_RETURN_IF_ERROR(DecompressLz4(frame.payload, scratch));
  return std::string_view(*scratch);
}

}  // namespace skeg::protocol::native
