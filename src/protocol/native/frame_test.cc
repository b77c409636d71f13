#include "protocol/native/frame.h"

#include <string>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "protocol/native/messages.h"
#include "protocol/native/native_test_util.h"

namespace skeg::protocol::native {
namespace {

using testing::LoadFixture;
using testing::Unhex;

std::string PingFrame(uint64_t req_id) {
  std::string out;
  EXPECT_TRUE(AppendFrame(Opcode::kPing, 0, req_id, "", &out).ok());
  return out;
}

TEST(NativeFrameTest, HeaderLayoutIsByteExact) {
  std::string out;
  ASSERT_TRUE(AppendFrame(Opcode::kGet, kFlagWaitDurable, 0x0102030405060708, "ab", &out).ok());
  EXPECT_EQ(out, Unhex("4b56 01 01 01000000 0807060504030201 02000000 00000000 6162"));
}

TEST(NativeFrameTest, ParsesOneFrameAndReportsConsumed) {
  std::string wire = PingFrame(7) + "tail";
  FrameParser parser;
  Frame frame;
  ParseResult r = parser.Parse(wire, &frame);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.consumed, kHeaderBytes);
  EXPECT_EQ(frame.header.op, Opcode::kPing);
  EXPECT_EQ(frame.header.req_id, 7u);
  EXPECT_TRUE(frame.payload.empty());
}

TEST(NativeFrameTest, PipelinedFramesParseOneByOne) {
  std::string wire;
  for (uint64_t id = 1; id <= 5; ++id) {
    ASSERT_TRUE(AppendFrame(Opcode::kGet, 0, id, std::string(id, 'x'), &wire).ok());
  }
  FrameParser parser;
  std::string_view rest = wire;
  for (uint64_t id = 1; id <= 5; ++id) {
    Frame frame;
    ParseResult r = parser.Parse(rest, &frame);
    ASSERT_EQ(r.status, ParseStatus::kFrame);
    EXPECT_EQ(frame.header.req_id, id);
    EXPECT_EQ(frame.payload, std::string(id, 'x'));
    rest.remove_prefix(r.consumed);
  }
  EXPECT_TRUE(rest.empty());
}

// Every fixture frame split at every byte boundary: kNeedMore on each proper prefix, then the
// same frame as parsing in one piece.
TEST(NativeFrameTest, SplitAtEveryByteIsResumable) {
  for (const auto& [name, f] : LoadFixture().frames) {
    SCOPED_TRACE(name);
    FrameParser whole_parser;
    Frame whole;
    ASSERT_EQ(whole_parser.Parse(f.bytes, &whole).status, ParseStatus::kFrame);
    for (size_t cut = 0; cut <= f.bytes.size(); ++cut) {
      FrameParser parser;
      Frame frame;
      std::string buffer = f.bytes.substr(0, cut);
      ParseResult r = parser.Parse(buffer, &frame);
      if (cut < f.bytes.size()) {
        ASSERT_EQ(r.status, ParseStatus::kNeedMore) << cut;
        EXPECT_EQ(r.consumed, 0u);
        EXPECT_GT(parser.RequiredInputBytes(), buffer.size());
        buffer.append(f.bytes.substr(cut));
        r = parser.Parse(buffer, &frame);
      }
      ASSERT_EQ(r.status, ParseStatus::kFrame) << cut;
      EXPECT_EQ(r.consumed, f.bytes.size());
      EXPECT_EQ(frame.header.op, whole.header.op);
      EXPECT_EQ(frame.header.flags, whole.header.flags);
      EXPECT_EQ(frame.header.req_id, whole.header.req_id);
      EXPECT_EQ(frame.payload, whole.payload);
    }
  }
}

TEST(NativeFrameTest, RequiredInputBytesCoversThePayload) {
  std::string wire;
  ASSERT_TRUE(AppendFrame(Opcode::kGet, 0, 1, std::string(100, 'k'), &wire).ok());
  FrameParser parser;
  Frame frame;
  EXPECT_EQ(parser.Parse(wire.substr(0, 10), &frame).status, ParseStatus::kNeedMore);
  EXPECT_EQ(parser.RequiredInputBytes(), kHeaderBytes);
  EXPECT_EQ(parser.Parse(wire.substr(0, 30), &frame).status, ParseStatus::kNeedMore);
  EXPECT_EQ(parser.RequiredInputBytes(), kHeaderBytes + 100);
}

TEST(NativeFrameTest, HeaderErrorsAreFatalAndSticky) {
  int checked = 0;
  for (const auto& [name, f] : LoadFixture().malformed) {
    if (f.expect != "fatal") continue;
    SCOPED_TRACE(name);
    FrameParser parser;
    Frame frame;
    ParseResult r = parser.Parse(f.bytes, &frame);
    EXPECT_EQ(r.status, ParseStatus::kError);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_TRUE(parser.error().IsCorruption()) << parser.error().ToString();
    // Sticky: even a valid frame after it is refused until Reset().
    EXPECT_EQ(parser.Parse(PingFrame(1), &frame).status, ParseStatus::kError);
    parser.Reset();
    EXPECT_EQ(parser.Parse(PingFrame(1), &frame).status, ParseStatus::kFrame);
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST(NativeFrameTest, BadHeaderIsReportedBeforeThePayloadArrives) {
  // Unknown flag bit with a 1000-byte payload still missing: error at once.
  std::string header = Unhex("4b56 01 01 00010000 0100000000000000 e8030000 00000000");
  FrameParser parser;
  Frame frame;
  EXPECT_EQ(parser.Parse(header, &frame).status, ParseStatus::kError);
}

TEST(NativeFrameTest, NeedMoreCasesFromTheFixture) {
  for (const auto& [name, f] : LoadFixture().malformed) {
    if (f.expect != "need_more") continue;
    SCOPED_TRACE(name);
    FrameParser parser;
    Frame frame;
    EXPECT_EQ(parser.Parse(f.bytes, &frame).status, ParseStatus::kNeedMore);
  }
}

TEST(NativeFrameTest, PayloadLimitIsTheSpecs16MiB) {
  EXPECT_EQ(kMaxPayloadBytes, 16777216u);
  std::string big(kMaxPayloadBytes, 'v');
  std::string out;
  ASSERT_TRUE(AppendFrame(Opcode::kGet, 0, 1, big, &out).ok());
  FrameParser parser;
  Frame frame;
  ParseResult r = parser.Parse(out, &frame);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(frame.payload.size(), kMaxPayloadBytes);

  big.push_back('v');
  std::string rejected;
  EXPECT_TRUE(AppendFrame(Opcode::kGet, 0, 1, big, &rejected).IsInvalidArgument());
  EXPECT_TRUE(rejected.empty());
}

TEST(NativeFrameTest, LowerConfiguredLimitIsFatal) {
  ParserOptions options;
  options.max_payload_bytes = 16;
  FrameParser parser(options);
  std::string wire;
  ASSERT_TRUE(AppendFrame(Opcode::kGet, 0, 1, std::string(17, 'x'), &wire).ok());
  Frame frame;
  EXPECT_EQ(parser.Parse(wire, &frame).status, ParseStatus::kError);
  EXPECT_FALSE(ParserOptions{.max_payload_bytes = 0}.Validate().ok());
  EXPECT_FALSE(ParserOptions{.max_payload_bytes = kMaxPayloadBytes + 1}.Validate().ok());
}

TEST(NativeFrameTest, AppendFrameRejectsUnknownFlags) {
  std::string out;
  EXPECT_TRUE(AppendFrame(Opcode::kPing, 1u << 8, 1, "", &out).IsInvalidArgument());
  EXPECT_TRUE(out.empty());
}

TEST(NativeFrameTest, Lz4RoundTripAndBounds) {
  std::string raw;
  for (int i = 0; i < 10000; ++i) raw += "value-" + std::to_string(i % 37);
  std::string wire;
  ASSERT_TRUE(AppendFrame(Opcode::kSet, kFlagCompressedLz4, 9, raw, &wire).ok());
  EXPECT_LT(wire.size(), raw.size() / 2);  // it really compressed
  FrameParser parser;
  Frame frame;
  ASSERT_EQ(parser.Parse(wire, &frame).status, ParseStatus::kFrame);
  std::string scratch;
  auto payload = DecodePayload(frame, &scratch);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(*payload, raw);

  // A 16 MiB uncompressed payload is allowed; the compressed form is tiny.
  std::string max(kMaxPayloadBytes, 'z');
  std::string compressed;
  ASSERT_TRUE(CompressLz4(max, &compressed).ok());
  std::string back;
  ASSERT_TRUE(DecompressLz4(compressed, &back).ok());
  EXPECT_EQ(back.size(), max.size());
  // The declared size is checked against what the block could produce before allocating.
  std::string lie = Unhex("00000001 00");  // claims 16 MiB from a 1-byte block
  EXPECT_TRUE(DecompressLz4(lie, &back).IsInvalidArgument());
  // Declared size differs from the real output.
  std::string small;
  ASSERT_TRUE(CompressLz4("hello world", &small).ok());
  EncodeFixed32(small.data(), 10);
  EXPECT_TRUE(DecompressLz4(small, &back).IsInvalidArgument());
}

TEST(NativeFrameTest, OpcodeTablesAgree) {
  int known = 0;
  for (int op = 0; op < 256; ++op) {
    if (!IsKnownOpcode(static_cast<uint8_t>(op))) continue;
    ++known;
    EXPECT_NE(OpcodeName(static_cast<Opcode>(op)), "UNKNOWN") << op;
  }
  EXPECT_EQ(known, 7 + 7 + 6 + 3);
  EXPECT_TRUE(SuppressesReply(Opcode::kSet, kFlagNoReply));
  EXPECT_TRUE(SuppressesReply(Opcode::kVDel, kFlagNoReply));
  EXPECT_FALSE(SuppressesReply(Opcode::kGet, kFlagNoReply));
  EXPECT_FALSE(SuppressesReply(Opcode::kSet, 0));
}

}  // namespace
}  // namespace skeg::protocol::native
