// libFuzzer target for protocol/native (frame.h, messages.h).
//
// Input layout: byte 0 selects the parser limit (bit 0: a tiny 64-byte max payload so the
// limit path is reachable with short inputs) and byte 1 seeds the chunking; the rest is the
// byte stream a peer sends. Checks, each a crash on failure:
//   * parsing never crashes, hangs, over-allocates or reads out of bounds (ASan/UBSan);
//   * the outcome (frames, the fatal error, pending bytes) is identical whether the stream
//     arrives in one piece or in arbitrary chunks;
//   * every frame decoded as a request re-encodes, and the re-encoding decodes to the same
//     request (encode/decode are inverse on everything the decoder accepts);
//   * every frame decoded as a response of any shape re-encodes to exactly the decoded payload;
//   * PeekRequestKey never reads out of bounds, and for a frame DecodeRequest accepts it is
//     empty or the request's key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/native/native.h"

namespace {

namespace native = skeg::protocol::native;

struct SeenFrame {
  uint8_t op;
  uint32_t flags;
  uint64_t req_id;
  std::string payload;
  bool operator==(const SeenFrame&) const = default;
};

struct Outcome {
  std::vector<SeenFrame> frames;
  std::string error;
  size_t pending_bytes = 0;
  bool operator==(const Outcome&) const = default;
};

void Check(bool condition) {
  if (!condition) std::abort();
}

Outcome Feed(std::string_view input, const native::ParserOptions& options, uint8_t seed) {
  native::FrameParser parser(options);
  std::string buffer;
  Outcome outcome;
  uint32_t state = seed;
  size_t offered = 0;
  while (offered < input.size()) {
    size_t n = input.size() - offered;
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (state >> 16) % 29);
    }
    buffer.append(input.substr(offered, n));
    offered += n;
    while (true) {
      native::Frame frame;
      const native::ParseResult r = parser.Parse(buffer, &frame);
      if (r.status == native::ParseStatus::kError) {
        Check(r.consumed == 0 && !parser.error().ok());
        outcome.error = parser.error().ToString();
        return outcome;
      }
      if (r.status == native::ParseStatus::kNeedMore) {
        Check(r.consumed == 0 && parser.RequiredInputBytes() > buffer.size());
        break;
      }
      Check(r.consumed == native::kHeaderBytes + frame.payload.size());
      Check(r.consumed <= buffer.size());
      outcome.frames.push_back({static_cast<uint8_t>(frame.header.op), frame.header.flags,
                                frame.header.req_id, std::string(frame.payload)});
      buffer.erase(0, r.consumed);
    }
  }
  outcome.pending_bytes = buffer.size();
  return outcome;
}

std::string Canonical(native::RequestFrame request) {
  request.flags &= ~(native::kFlagCompressedLz4 | native::kFlagSetNx | native::kFlagSetXx);
  std::string out;
  Check(native::EncodeRequest(request, &out).ok());
  return out;
}

native::Frame ParseOne(const std::string& wire) {
  native::FrameParser parser;
  native::Frame frame;
  const native::ParseResult r = parser.Parse(wire, &frame);
  Check(r.status == native::ParseStatus::kFrame && r.consumed == wire.size());
  return frame;
}

void CheckFrame(const SeenFrame& seen) {
  native::Frame frame;
  frame.header.op = static_cast<native::Opcode>(seen.op);
  frame.header.flags = seen.flags;
  frame.header.req_id = seen.req_id;
  frame.header.payload_len = static_cast<uint32_t>(seen.payload.size());
  frame.payload = seen.payload;

  std::string scratch;
  auto request = native::DecodeRequest(frame, &scratch);
  const std::string_view peeked = native::PeekRequestKey(frame);
  if (request.has_value()) {
    if (!peeked.empty()) {
      std::string_view key;
      if (const auto* r = std::get_if<native::GetRequest>(&request->body)) key = r->key;
      if (const auto* r = std::get_if<native::SetRequest>(&request->body)) key = r->key;
      if (const auto* r = std::get_if<native::DelRequest>(&request->body)) key = r->key;
      if (const auto* r = std::get_if<native::ExistsRequest>(&request->body)) key = r->key;
      Check(peeked == key);
    }
    const std::string once = Canonical(*request);
    std::string scratch2;
    auto again = native::DecodeRequest(ParseOne(once), &scratch2);
    Check(again.has_value());
    Check(Canonical(*again) == once);
  } else {
    Check(request.error().IsInvalidArgument());
  }

  for (int shape = 0; shape <= static_cast<int>(native::ReplyShape::kText); ++shape) {
    std::string rscratch;
    auto response =
        native::DecodeResponse(frame, static_cast<native::ReplyShape>(shape), &rscratch);
    if (!response.has_value()) {
      Check(response.error().IsCorruption());
      continue;
    }
    auto payload = native::DecodePayload(frame, &rscratch);
    Check(payload.has_value());
    std::string wire;
    if (response->error.has_value()) {
      native::EncodeError(response->req_id, response->error->code, response->error->message, &wire);
    } else {
      Check(native::ShapeOf(response->body) == static_cast<native::ReplyShape>(shape));
      Check(native::EncodeOk(response->req_id, response->body, &wire).ok());
    }
    Check(std::string_view(wire).substr(native::kHeaderBytes) == *payload);
    if (response->error.has_value()) break;  // Err frames decode the same for every shape
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  native::ParserOptions options;
  if (data[0] & 1) options.max_payload_bytes = 64;
  const uint8_t seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = Feed(input, options, 0);
  const Outcome chunked = Feed(input, options, seed == 0 ? 1 : seed);
  Check(whole == chunked);
  for (const auto& frame : whole.frames) CheckFrame(frame);
  return 0;
}
