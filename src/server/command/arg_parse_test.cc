#include "server/command/arg_parse.h"

#include <limits>

#include <gtest/gtest.h>

namespace skeg::server {
namespace {

TEST(ArgParseTest, ParseInt64FollowsRedisString2ll) {
  EXPECT_EQ(ParseInt64("0"), 0);
  EXPECT_EQ(ParseInt64("-1"), -1);
  EXPECT_EQ(ParseInt64("9223372036854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ParseInt64("-9223372036854775808"), std::numeric_limits<int64_t>::min());
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "01", "-0", "9223372036854775808",
                          "-9223372036854775809", "1.0", "abc", "1e3"}) {
    EXPECT_FALSE(ParseInt64(bad).has_value()) << bad;
  }
}

TEST(ArgParseTest, LongDoubleParsingAndFormatting) {
  EXPECT_TRUE(ParseLongDouble("1.5").has_value());
  EXPECT_TRUE(ParseLongDouble("-3e2").has_value());
  EXPECT_FALSE(ParseLongDouble(" 1").has_value());
  EXPECT_FALSE(ParseLongDouble("nan").has_value());
  EXPECT_FALSE(ParseLongDouble("1x").has_value());
  EXPECT_FALSE(ParseLongDouble("").has_value());
  EXPECT_EQ(FormatLongDouble(10.5L), "10.5");
  EXPECT_EQ(FormatLongDouble(3.0L), "3");
  EXPECT_EQ(FormatLongDouble(-0.0L), "0");
  EXPECT_EQ(FormatLongDouble(10.5L + 0.1L), "10.6");
  EXPECT_EQ(FormatLongDouble(5.0e3L), "5000");
}

TEST(ArgParseTest, UnknownCommandTextMatchesRedis) {
  const std::string_view args[] = {"a", "b"};
  EXPECT_EQ(UnknownCommandError("foo", args, 2),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  EXPECT_EQ(UnknownCommandError("foo", nullptr, 0),
            "ERR unknown command 'foo', with args beginning with: ");
  const std::string longarg(300, 'x');
  const std::string_view many[] = {longarg, "y"};
  // The first argument is cut at 128 bytes and nothing follows it.
  EXPECT_EQ(
      UnknownCommandError("foo", many, 2),
      "ERR unknown command 'foo', with args beginning with: '" + std::string(128, 'x') + "' ");
}

}  // namespace
}  // namespace skeg::server
