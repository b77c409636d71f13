// libFuzzer target for protocol/resp/resp_parser.h.
//
// Input layout: byte 0 selects the limits (default or tiny, so the limit paths are reachable
// with short inputs) and byte 1 seeds the chunking; the rest is the byte stream a client sends.
// Checks, each a crash on failure:
//   * parsing never crashes, hangs or reads out of bounds (ASan/UBSan);
//   * the outcome (requests, error text, pending bytes) is identical whether the stream arrives
//     in one piece or in arbitrary chunks;
//   * every parsed request re-encoded with AppendRequest() parses back to the same arguments;
//   * replying with the arguments through RespReplyBuilder (RESP2 and RESP3) works;
//   * RespParser::Peek never reads out of bounds, and for a request that then parses the key
//     it returns is that request's second argument and the size it returns is `consumed`.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/request.h"
#include "protocol/resp/resp_parser.h"
#include "protocol/resp/resp_writer.h"

namespace {

using skeg::protocol::Request;
using skeg::protocol::resp::ParseResult;
using skeg::protocol::resp::ParserOptions;
using skeg::protocol::resp::ParseStatus;
using skeg::protocol::resp::RespParser;

struct Outcome {
  std::vector<std::vector<std::string>> requests;
  std::string error;
  size_t pending_bytes = 0;
  bool operator==(const Outcome&) const = default;
};

void Check(bool condition) {
  if (!condition) std::abort();
}

// Feeds `input` in chunks whose sizes come from `seed` (0 = one piece), as a connection would.
Outcome Feed(std::string_view input, const ParserOptions& options, uint8_t seed) {
  RespParser parser(options);
  Request request;
  std::string buffer;
  Outcome outcome;
  uint32_t state = seed;
  size_t offered = 0;
  while (offered < input.size()) {
    size_t n = input.size() - offered;
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (state >> 16) % 23);
    }
    buffer.append(input.substr(offered, n));
    offered += n;
    while (true) {
      const RespParser::Peeked peeked = RespParser::Peek(buffer);
      const ParseResult r = parser.Parse(buffer, &request);
      if (r.status == ParseStatus::kOk && !peeked.key.empty()) {
        Check(request.size() >= 2 && request[1] == peeked.key);
      }
      if (r.status == ParseStatus::kOk && peeked.size != 0) Check(r.consumed == peeked.size);
      if (r.status == ParseStatus::kError) {
        Check(r.consumed == 0 && !parser.error().empty());
        outcome.error = std::string(parser.error());
        return outcome;
      }
      Check(r.consumed <= buffer.size());
      if (r.status == ParseStatus::kOk) {
        Check(!request.empty() && r.consumed > 0);
        outcome.requests.emplace_back(request.begin(), request.end());
      }
      buffer.erase(0, r.consumed);
      if (r.status == ParseStatus::kNeedMore) break;
    }
  }
  outcome.pending_bytes = buffer.size();
  return outcome;
}

void CheckRoundTrip(const std::vector<std::string>& args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  std::string wire;
  skeg::protocol::resp::AppendRequest(views, &wire);
  RespParser parser;
  Request request;
  const ParseResult r = parser.Parse(wire, &request);
  Check(r.status == ParseStatus::kOk && r.consumed == wire.size());
  Check(request.size() == args.size());
  for (size_t i = 0; i < args.size(); ++i) Check(request[i] == args[i]);

  std::string out;
  skeg::protocol::resp::RespReplyBuilder builder(&out);
  for (auto version :
       {skeg::protocol::resp::RespVersion::kResp2, skeg::protocol::resp::RespVersion::kResp3}) {
    builder.set_version(version);
    builder.MapStart(1);
    builder.SimpleString(args[0]);
    builder.BulkArray(views);
    builder.Error(args.back());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  ParserOptions options;
  if (data[0] & 1) {
    options.max_bulk_bytes = 16;
    options.max_multibulk_elements = 4;
    options.max_inline_bytes = 32;
  }
  const uint8_t seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = Feed(input, options, 0);
  const Outcome chunked = Feed(input, options, seed == 0 ? 1 : seed);
  Check(whole == chunked);
  for (const auto& args : whole.requests) CheckRoundTrip(args);
  return 0;
}
