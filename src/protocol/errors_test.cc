#include "protocol/errors.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "protocol/resp/resp_writer.h"

namespace skeg::protocol {
namespace {

TEST(ErrorTableTest, HasOneRowPerStatusCodeInEnumOrder) {
  const auto table = ErrorTable();
  ASSERT_EQ(table.size(), static_cast<size_t>(StatusCode::kInternal) + 1);
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(table[i].code), i) << "row " << i;
    EXPECT_FALSE(table[i].resp_prefix.empty());
    for (char c : table[i].resp_prefix) EXPECT_TRUE(c >= 'A' && c <= 'Z') << table[i].resp_prefix;
  }
}

TEST(ErrorTableTest, RespPrefixes) {
  EXPECT_EQ(RespErrorPrefix(StatusCode::kNotFound), "ERR");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kAlreadyExists), "ERR");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kInvalidArgument), "ERR");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kWrongType), "WRONGTYPE");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kCorruption), "ERR");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kIOError), "ERR");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kResourceExhausted), "OOM");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kUnauthenticated), "NOAUTH");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kPermissionDenied), "NOPERM");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kBusy), "BUSY");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kNotSupported), "ERR");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kCancelled), "ERR");
  EXPECT_EQ(RespErrorPrefix(StatusCode::kInternal), "ERR");
}

TEST(ErrorTableTest, NativeCodesUseSpecNumbers) {
  EXPECT_EQ(static_cast<int>(NativeErrorCode::kNotFound), 0x01);
  EXPECT_EQ(static_cast<int>(NativeErrorCode::kInvalidRequest), 0x02);
  EXPECT_EQ(static_cast<int>(NativeErrorCode::kInternal), 0x03);
  EXPECT_EQ(static_cast<int>(NativeErrorCode::kUnauthorized), 0x04);
  EXPECT_EQ(static_cast<int>(NativeErrorCode::kQuotaExceeded), 0x05);
  EXPECT_EQ(static_cast<int>(NativeErrorCode::kReadOnly), 0x06);
  EXPECT_EQ(NativeErrorCodeName(NativeErrorCode::kQuotaExceeded), "QuotaExceeded");
  EXPECT_EQ(NativeErrorCodeName(static_cast<NativeErrorCode>(0x7f)), "Unknown");
}

TEST(ErrorTableTest, NativeMapping) {
  EXPECT_EQ(NativeErrorFor(StatusCode::kNotFound), NativeErrorCode::kNotFound);
  EXPECT_EQ(NativeErrorFor(StatusCode::kInvalidArgument), NativeErrorCode::kInvalidRequest);
  EXPECT_EQ(NativeErrorFor(StatusCode::kWrongType), NativeErrorCode::kInvalidRequest);
  EXPECT_EQ(NativeErrorFor(StatusCode::kIOError), NativeErrorCode::kInternal);
  EXPECT_EQ(NativeErrorFor(StatusCode::kCorruption), NativeErrorCode::kInternal);
  EXPECT_EQ(NativeErrorFor(StatusCode::kResourceExhausted), NativeErrorCode::kQuotaExceeded);
  EXPECT_EQ(NativeErrorFor(StatusCode::kUnauthenticated), NativeErrorCode::kUnauthorized);
  EXPECT_EQ(NativeErrorFor(StatusCode::kPermissionDenied), NativeErrorCode::kUnauthorized);
  EXPECT_EQ(NativeErrorFor(StatusCode::kInternal), NativeErrorCode::kInternal);
}

TEST(ErrorTextTest, AddsThePrefixOfTheCode) {
  EXPECT_EQ(ErrorText(Status::InvalidArgument("syntax error")), "ERR syntax error");
  EXPECT_EQ(ErrorText(Status::NotFound("no such key")), "ERR no such key");
  EXPECT_EQ(ErrorText(Status::WrongType("Operation against a key holding the wrong kind of value")),
            errors::kWrongType);
  EXPECT_EQ(ErrorText(Status::Unauthenticated("Authentication required.")), errors::kNoAuth);
  EXPECT_EQ(ErrorText(Status::PermissionDenied("no permissions")), "NOPERM no permissions");
  EXPECT_EQ(ErrorText(Status::ResourceExhausted("quota exceeded")), "OOM quota exceeded");
  EXPECT_EQ(ErrorText(Status::Busy("data directory locked")), "BUSY data directory locked");
}

TEST(ErrorTextTest, KeepsAnExistingPrefix) {
  EXPECT_EQ(ErrorText(Status::InvalidArgument("ERR syntax error")), "ERR syntax error");
  EXPECT_EQ(ErrorText(Status::Unauthenticated("WRONGPASS invalid username-password pair or user "
                                              "is disabled.")),
            errors::kWrongPass);
  EXPECT_EQ(ErrorText(Status::PermissionDenied("READONLY You can't write against a read only "
                                               "replica.")),
            "READONLY You can't write against a read only replica.");
  EXPECT_EQ(ErrorText(Status::ResourceExhausted(
                "OOM command not allowed when used memory > 'maxmemory'.")),
            "OOM command not allowed when used memory > 'maxmemory'.");
  EXPECT_EQ(ErrorText(Status::InvalidArgument("ERR")), "ERR");
}

TEST(ErrorTextTest, AcronymsAreNotPrefixes) {
  EXPECT_EQ(ErrorText(Status::Corruption("CRC mismatch")), "ERR CRC mismatch");
  EXPECT_EQ(ErrorText(Status::InvalidArgument("TTL must be positive")), "ERR TTL must be positive");
  EXPECT_EQ(ErrorText(Status::InvalidArgument("ERRATIC input")), "ERR ERRATIC input");
  EXPECT_EQ(ErrorText(Status::InvalidArgument("Protocol error: invalid bulk length")),
            "ERR Protocol error: invalid bulk length");
  EXPECT_FALSE(HasErrorPrefix(""));
  EXPECT_FALSE(HasErrorPrefix("err lower case"));
  EXPECT_TRUE(HasErrorPrefix("NOSCRIPT No matching script."));
}

TEST(ErrorTextTest, EmptyMessageAndOk) {
  EXPECT_EQ(ErrorText(Status::Internal("")), "ERR");
  EXPECT_EQ(ErrorText(Status::WrongType("")), "WRONGTYPE");
  EXPECT_EQ(ErrorText(Status::Ok()), "ERR internal error: OK status reported as an error");
}

TEST(ReplyBuilderErrorTest, StatusGoesThroughTheTable) {
  std::string out;
  resp::RespReplyBuilder builder(&out);
  builder.Error(Status::InvalidArgument("syntax error"));
  builder.Error(Status::WrongType("Operation against a key holding the wrong kind of value"));
  builder.Error(Status::Unauthenticated("NOAUTH Authentication required."));
  builder.Error("ERR unknown command 'foo', with args beginning with: ");
  EXPECT_EQ(out,
            "-ERR syntax error\r\n"
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            "-NOAUTH Authentication required.\r\n"
            "-ERR unknown command 'foo', with args beginning with: \r\n");
}

TEST(ReplyBuilderErrorTest, NewlinesInMessagesAreFlattened) {
  std::string out;
  resp::RespReplyBuilder builder(&out, resp::RespVersion::kResp3);
  builder.Error(Status::IOError("read failed\r\nsecond line"));
  EXPECT_EQ(out, "-ERR read failed  second line\r\n");
}

}  // namespace
}  // namespace skeg::protocol
