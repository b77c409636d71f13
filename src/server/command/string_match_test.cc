#include "server/command/string_match.h"

#include <string>

#include <gtest/gtest.h>

namespace skeg::server {
namespace {

TEST(StringMatchTest, LiteralsAndWildcards) {
  EXPECT_TRUE(StringMatch("abc", "abc"));
  EXPECT_FALSE(StringMatch("abc", "abd"));
  // Redis quirk kept on purpose: stringmatchlen("*", "") is 0 (KEYS * short-circuits).
  EXPECT_FALSE(StringMatch("*", ""));
  EXPECT_TRUE(StringMatch("*", "anything"));
  EXPECT_TRUE(StringMatch("a*c", "abbbc"));
  EXPECT_TRUE(StringMatch("a*c", "ac"));
  EXPECT_FALSE(StringMatch("a*c", "ab"));
  EXPECT_TRUE(StringMatch("h?llo", "hello"));
  EXPECT_FALSE(StringMatch("h?llo", "hllo"));
  EXPECT_TRUE(StringMatch("**a**", "xxaxx"));
  EXPECT_FALSE(StringMatch("", "a"));
  EXPECT_TRUE(StringMatch("", ""));
}

TEST(StringMatchTest, CharacterClasses) {
  EXPECT_TRUE(StringMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(StringMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(StringMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(StringMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(StringMatch("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(StringMatch("h[b-a]llo", "hallo"));  // reversed range
  EXPECT_FALSE(StringMatch("h[a-b]llo", "hcllo"));
  EXPECT_TRUE(StringMatch("[\\]]", "]"));
  EXPECT_TRUE(StringMatch("a[bc", "ac"));  // unterminated class
}

TEST(StringMatchTest, EscapesNocaseAndBinary) {
  EXPECT_TRUE(StringMatch("a\\*b", "a*b"));
  EXPECT_FALSE(StringMatch("a\\*b", "axb"));
  EXPECT_TRUE(StringMatch("a\\", "a\\"));
  EXPECT_TRUE(StringMatch("HeLLo", "hello", true));
  EXPECT_FALSE(StringMatch("HeLLo", "hello", false));
  EXPECT_TRUE(StringMatch("[A-C]x", "bx", true));
  EXPECT_TRUE(StringMatch(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_TRUE(StringMatch("a?b", std::string("a\0b", 3)));
}

TEST(StringMatchTest, PathologicalPatternTerminates) {
  const std::string pattern(200, '*');
  std::string p = "a";
  for (int i = 0; i < 30; ++i) p += "*a";
  EXPECT_FALSE(StringMatch(p + "b", std::string(60, 'a')));
  EXPECT_TRUE(StringMatch(pattern, std::string(1000, 'x')));
}

}  // namespace
}  // namespace skeg::server
