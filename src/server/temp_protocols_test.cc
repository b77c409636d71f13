#include "server/temp_protocols.h"

#include <string>

#include <gtest/gtest.h>

#include "common/coding.h"

namespace skeg::server::temp {
namespace {

std::string Resp(std::string_view in, bool* close = nullptr, size_t* consumed = nullptr) {
  std::string out;
  HandleResult r = HandleResp(in, 1024, &out);
  if (close != nullptr) *close = r.close;
  if (consumed != nullptr) *consumed = r.consumed;
  return out;
}

TEST(TempRespTest, AnswersPingInBothForms) {
  EXPECT_EQ(Resp("*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
  EXPECT_EQ(Resp("PING\r\n"), "+PONG\r\n");
  EXPECT_EQ(Resp("ping\n"), "+PONG\r\n");
  EXPECT_EQ(Resp("*2\r\n$4\r\nping\r\n$2\r\nhi\r\n"), "$2\r\nhi\r\n");
  EXPECT_EQ(Resp("PING\r\n*1\r\n$4\r\nPING\r\n"), "+PONG\r\n+PONG\r\n");  // pipelined
}

TEST(TempRespTest, UnknownCommandInRedisWording) {
  EXPECT_EQ(Resp("*1\r\n$3\r\nfoo\r\n"),
            "-ERR unknown command 'foo', with args beginning with: \r\n");
  EXPECT_EQ(Resp("SET k v\r\n"),
            "-ERR unknown command 'SET', with args beginning with: 'k' 'v' \r\n");
}

TEST(TempRespTest, WaitsForCompleteRequests) {
  size_t consumed = 99;
  bool close = true;
  EXPECT_EQ(Resp("*1\r\n$4\r\nPI", &close, &consumed), "");
  EXPECT_EQ(consumed, 0u);
  EXPECT_FALSE(close);
  EXPECT_EQ(Resp("PING", &close, &consumed), "");
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(Resp("PING\r\n*1\r\n", &close, &consumed), "+PONG\r\n");
  EXPECT_EQ(consumed, 6u);
}

TEST(TempRespTest, ProtocolErrorsClose) {
  bool close = false;
  EXPECT_EQ(Resp("*1\r\n+PING\r\n", &close), "-ERR Protocol error: expected '$', got '+'\r\n");
  EXPECT_TRUE(close);
  EXPECT_EQ(Resp("*x\r\n", &close), "-ERR Protocol error: invalid multibulk length\r\n");
  EXPECT_TRUE(close);
  EXPECT_EQ(Resp("*1\r\n$5000\r\n", &close), "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(close);
  EXPECT_EQ(Resp("QUIT\r\n", &close), "+OK\r\n");
  EXPECT_TRUE(close);
}

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
