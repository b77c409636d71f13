#include "protocol/resp/resp_writer.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/request.h"
#include "protocol/resp/resp_parser.h"

namespace skeg::protocol::resp {
namespace {

class RespWriterTest : public ::testing::TestWithParam<RespVersion> {
 protected:
  std::string out_;
  RespReplyBuilder builder_{&out_, GetParam()};
  bool resp3() const { return GetParam() == RespVersion::kResp3; }
};

INSTANTIATE_TEST_SUITE_P(Versions, RespWriterTest,
                         ::testing::Values(RespVersion::kResp2, RespVersion::kResp3),
                         [](const ::testing::TestParamInfo<RespVersion>& param_info) {
                           return param_info.param == RespVersion::kResp2 ? "Resp2" : "Resp3";
                         });

TEST_P(RespWriterTest, SameInBothVersions) {
  builder_.SimpleString("PONG");
  builder_.Ok();
  builder_.Error("ERR syntax error");
  builder_.Error("");
  builder_.Integer(0);
  builder_.Integer(-42);
  builder_.Integer(std::numeric_limits<int64_t>::min());
  builder_.Integer(std::numeric_limits<int64_t>::max());
  builder_.Bulk("");
  builder_.Bulk(std::string_view("a\0\r\nb", 5));
  builder_.ArrayStart(0);
  builder_.ArrayStart(3);
  using namespace std::string_literals;
  EXPECT_EQ(out_,
            "+PONG\r\n+OK\r\n-ERR syntax error\r\n-ERR\r\n:0\r\n:-42\r\n"
            ":-9223372036854775808\r\n:9223372036854775807\r\n$0\r\n\r\n"
            "$5\r\na\0\r\nb\r\n*0\r\n*3\r\n"s);
}

TEST_P(RespWriterTest, SimpleStringCannotBreakFraming) {
  builder_.SimpleString("a\r\nb\nc");
  EXPECT_EQ(out_, "+a  b c\r\n");
}

TEST_P(RespWriterTest, Nulls) {
  builder_.Null();
  builder_.NullArray();
  EXPECT_EQ(out_, resp3() ? "_\r\n_\r\n" : "$-1\r\n*-1\r\n");
}

TEST_P(RespWriterTest, Bools) {
  builder_.Bool(true);
  builder_.Bool(false);
  EXPECT_EQ(out_, resp3() ? "#t\r\n#f\r\n" : ":1\r\n:0\r\n");
}

TEST_P(RespWriterTest, Aggregates) {
  builder_.MapStart(2);
  builder_.SetStart(3);
  builder_.PushStart(1);
  builder_.MapStart(0);
  EXPECT_EQ(out_, resp3() ? "%2\r\n~3\r\n>1\r\n%0\r\n" : "*4\r\n*3\r\n*1\r\n*0\r\n");
}

TEST_P(RespWriterTest, NestedMapOfArrays) {
  builder_.MapStart(1);
  builder_.Bulk("k");
  builder_.ArrayStart(2);
  builder_.Integer(1);
  builder_.Null();
  EXPECT_EQ(out_, resp3() ? "%1\r\n$1\r\nk\r\n*2\r\n:1\r\n_\r\n"
                          : "*2\r\n$1\r\nk\r\n*2\r\n:1\r\n$-1\r\n");
}

TEST_P(RespWriterTest, Verbatim) {
  builder_.Verbatim("hello");
  builder_.Verbatim("# md", "mkd");
  builder_.Verbatim("x", "toolong");
  EXPECT_EQ(out_, resp3() ? "=9\r\ntxt:hello\r\n=8\r\nmkd:# md\r\n=5\r\ntxt:x\r\n"
                          : "$5\r\nhello\r\n$4\r\n# md\r\n$1\r\nx\r\n");
}

TEST_P(RespWriterTest, BigNumber) {
  builder_.BigNumber("-3492890328409238509324850943850943825024385");
  EXPECT_EQ(out_, resp3() ? "(-3492890328409238509324850943850943825024385\r\n"
                          : "$44\r\n-3492890328409238509324850943850943825024385\r\n");
}

TEST_P(RespWriterTest, BulkArray) {
  const std::vector<std::string_view> values = {"a", "bc"};
  builder_.BulkArray(values);
  EXPECT_EQ(out_, "*2\r\n$1\r\na\r\n$2\r\nbc\r\n");
}

struct DoubleCase {
  double value;
  std::string_view text;
};

TEST_P(RespWriterTest, Doubles) {
  const DoubleCase cases[] = {
      {1.5, "1.5"},
      {0.1, "0.1"},
      {-0.25, "-0.25"},
      {3.0, "3"},
      {-7.0, "-7"},
      {0.0, "0"},
      {-0.0, "-0"},
      {1e15, "1000000000000000"},
      {4611686018427387904.0, "4611686018427387904"},  // 2^62: still printed as an integer
      {1e300, "1e+300"},
      {1e-7, "1e-07"},
      {3.141592653589793, "3.141592653589793"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
      {-std::numeric_limits<double>::quiet_NaN(), "nan"},
  };
  for (const DoubleCase& c : cases) {
    out_.clear();
    builder_.Double(c.value);
    std::string expected;
    if (resp3()) {
      expected = "," + std::string(c.text) + "\r\n";
    } else {
      expected = "$" + std::to_string(c.text.size()) + "\r\n" + std::string(c.text) + "\r\n";
    }
    EXPECT_EQ(out_, expected) << c.text;
    std::string text;
    AppendDoubleText(c.value, &text);
    EXPECT_EQ(text, c.text);
  }
}

TEST(RespWriterSwitchTest, VersionSwitchesBetweenReplies) {
  std::string out;
  RespReplyBuilder builder(&out);
  EXPECT_EQ(builder.version(), RespVersion::kResp2);
  builder.Null();
  builder.set_version(RespVersion::kResp3);  // HELLO 3
  builder.MapStart(1);
  builder.Bulk("proto");
  builder.Integer(3);
  builder.Null();
  builder.set_version(RespVersion::kResp2);  // HELLO 2
  builder.Double(2.5);
  EXPECT_EQ(out, "$-1\r\n%1\r\n$5\r\nproto\r\n:3\r\n_\r\n$3\r\n2.5\r\n");
}

TEST(RespWriterSwitchTest, AppendsAndCanBeRedirected) {
  std::string a = "existing";
  std::string b;
  RespReplyBuilder builder(&a);
  builder.Integer(1);
  builder.set_output(&b);
  builder.Integer(2);
  EXPECT_EQ(a, "existing:1\r\n");
  EXPECT_EQ(b, ":2\r\n");
  EXPECT_EQ(builder.output(), &b);
}

TEST(EncodeRequestTest, ByteExact) {
  EXPECT_EQ(EncodeRequest({"SET", "key", ""}), "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n");
  EXPECT_EQ(EncodeRequest({}), "*0\r\n");
  std::string out = "x";
  const std::vector<std::string_view> args = {"PING"};
  AppendRequest(args, &out);
  EXPECT_EQ(out, "x*1\r\n$4\r\nPING\r\n");
}

TEST(EncodeRequestTest, RoundTripsThroughTheParser) {
  const std::string binary("\0\r\n*$\xff", 6);
  const std::string wire = EncodeRequest({"HSET", binary, "", "v"});
  RespParser parser;
  Request request;
  const ParseResult r = parser.Parse(wire, &request);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, wire.size());
  ASSERT_EQ(request.size(), 4u);
  EXPECT_EQ(request[0], "HSET");
  EXPECT_EQ(request[1], binary);
  EXPECT_EQ(request[2], "");
  EXPECT_EQ(request[3], "v");
}

}  // namespace
}  // namespace skeg::protocol::resp
