#include "server/temp_protocols.h"

#include <string>

#include <gtest/gtest.h>

#include "common/coding.h"

namespace skeg::server::temp {
namespace {

std::string Frame(uint8_t op, uint32_t flags, uint64_t req_id, std::string_view payload,
                  uint16_t magic = kNativeMagic, uint8_t version = kNativeVersion) {
  std::string f(kNativeHeaderBytes, '\0');
  EncodeFixed16(f.data(), magic);
  f[2] = static_cast<char>(version);
  f[3] = static_cast<char>(op);
  EncodeFixed32(f.data() + 4, flags);
  EncodeFixed64(f.data() + 8, req_id);
  EncodeFixed32(f.data() + 16, static_cast<uint32_t>(payload.size()));
  f.append(payload);
  return f;
}

TEST(TempNativeTest, AnswersPing) {
  std::string out;
  const std::string ping = Frame(kNativeOpPing, 0, 0x1122334455667788ull, "");
  EXPECT_EQ(static_cast<uint8_t>(ping[0]), 0x4B);  // spec: bytes 4B 56 on the wire
  EXPECT_EQ(static_cast<uint8_t>(ping[1]), 0x56);
  HandleResult r = HandleNative(ping + ping.substr(0, 10), &out);
  EXPECT_EQ(r.consumed, kNativeHeaderBytes);
  EXPECT_FALSE(r.close);
  EXPECT_EQ(out, Frame(kNativeOpOk, 0, 0x1122334455667788ull, ""));
}

TEST(TempNativeTest, OtherOpsAndBadHeaders) {
  std::string out;
  HandleResult r = HandleNative(Frame(0x01, 0, 7, "xyz"), &out);  // GET: not yet
  EXPECT_EQ(r.consumed, kNativeHeaderBytes + 3);
  ASSERT_EQ(out.size(), kNativeHeaderBytes + 2 + 19);
  EXPECT_EQ(static_cast<uint8_t>(out[3]), kNativeOpErr);
  EXPECT_EQ(DecodeFixed64(out.data() + 8), 7u);
  out.clear();
  HandleNative(Frame(kNativeOpPing, 1u << 2, 8, ""), &out);  // reserved BATCH flag
  EXPECT_EQ(static_cast<uint8_t>(out[3]), kNativeOpErr);
  EXPECT_EQ(out[kNativeHeaderBytes], 0x02);  // InvalidRequest
  for (const std::string& bad :
       {Frame(kNativeOpPing, 0, 1, "", 0x1234), Frame(kNativeOpPing, 0, 1, "", kNativeMagic, 2),
        Frame(0x42, 0, 1, ""), Frame(kNativeOpPing, 1u << 9, 1, "")}) {
    out.clear();
    r = HandleNative(bad, &out);
    EXPECT_TRUE(r.close);
    EXPECT_EQ(out, "");
  }
}

}  // namespace
}  // namespace skeg::server::temp
