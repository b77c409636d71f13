#include "index/filter/filter.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace skeg::index {
namespace {

std::vector<PayloadToken> Tokens(std::string_view payload) {
  std::vector<PayloadToken> t;
  ParsePayload(payload, &t);
  return t;
}

// Parses `expr` (which must parse) and evaluates it against `payload`.
bool Match(std::string_view expr, std::string_view payload) {
  Result<Filter> f = Filter::Parse(expr);
  EXPECT_TRUE(f.ok()) << expr << ": " << f.status().ToString();
  if (!f.ok()) return false;
  return f->Matches(Tokens(payload));
}

std::string ParseError(std::string_view expr) {
  Result<Filter> f = Filter::Parse(expr);
  if (f.ok()) return "parsed";
  return std::string(f.status().message());
}

TEST(PayloadTest, ParsesFieldValueTokens) {
  const auto t = Tokens("  lang=en year=2021 \t n=-5 junk =x tag=a=b empty= ");
  ASSERT_EQ(t.size(), 5u);
  EXPECT_FALSE(t[0].is_int());
  EXPECT_EQ(t[0].field(), FieldKey("lang"));
  EXPECT_TRUE(t[1].is_int());
  EXPECT_EQ(static_cast<int64_t>(t[1].value), 2021);
  EXPECT_TRUE(t[2].is_int());
  EXPECT_EQ(static_cast<int64_t>(t[2].value), -5);
  EXPECT_FALSE(t[3].is_int());  // tag = "a=b"
  EXPECT_FALSE(t[4].is_int());  // empty keyword
  EXPECT_TRUE(Tokens("").empty());
  EXPECT_TRUE(Tokens("no equals here").empty());
}

TEST(PayloadTest, IntegerEdgeCases) {
  EXPECT_TRUE(Tokens("a=9223372036854775807")[0].is_int());
  EXPECT_FALSE(Tokens("a=9223372036854775808")[0].is_int());  // overflow: keyword
  EXPECT_FALSE(Tokens("a=+5")[0].is_int());
  EXPECT_FALSE(Tokens("a=5.0")[0].is_int());
  EXPECT_TRUE(Tokens("a=007")[0].is_int());
}

TEST(FilterTest, Equality) {
  EXPECT_TRUE(Match("lang = en", "lang=en year=2021"));
  EXPECT_FALSE(Match("lang = fr", "lang=en year=2021"));
  EXPECT_TRUE(Match("year = 2021", "lang=en year=2021"));
  EXPECT_TRUE(Match("year=2021", "year=02021"));  // both integers
  EXPECT_FALSE(Match("year = 2021", "year=x2021"));
  EXPECT_FALSE(Match("lang = en", "language=en"));
  EXPECT_TRUE(Match("lang == en", "lang=en"));
  EXPECT_TRUE(Match("tag = b", "tag=a tag=b"));  // repeated field: any value
  EXPECT_FALSE(Match("t = \"a b\"", "t=a"));
  EXPECT_TRUE(Match("t = \"a,b\"", "t=a,b"));
  EXPECT_TRUE(Match("\"and\" = x", "and=x"));  // quoted words are never keywords
}

TEST(FilterTest, Comparisons) {
  EXPECT_TRUE(Match("y > 2020", "y=2021"));
  EXPECT_FALSE(Match("y > 2021", "y=2021"));
  EXPECT_TRUE(Match("y >= 2021", "y=2021"));
  EXPECT_TRUE(Match("y < 2022", "y=2021"));
  EXPECT_FALSE(Match("y < 2021", "y=2021"));
  EXPECT_TRUE(Match("y <= 2021", "y=2021"));
  EXPECT_TRUE(Match("y>-1", "y=0"));
  EXPECT_FALSE(Match("y > 1", "y=abc"));  // keywords never compare
  EXPECT_FALSE(Match("y > 9223372036854775807", "y=9223372036854775807"));
  EXPECT_FALSE(Match("y < -9223372036854775808", "y=-9223372036854775808"));
  EXPECT_TRUE(Match("y BETWEEN 1 AND 3", "y=1"));
  EXPECT_TRUE(Match("y between 1 and 3", "y=3"));
  EXPECT_FALSE(Match("y BETWEEN 1 AND 3", "y=4"));
  EXPECT_FALSE(Match("y BETWEEN 3 AND 1", "y=2"));
}

TEST(FilterTest, InAndExists) {
  EXPECT_TRUE(Match("lang IN (en, fr)", "lang=fr"));
  EXPECT_FALSE(Match("lang in (en,fr)", "lang=de"));
  EXPECT_TRUE(Match("n IN (1, x, 3)", "n=3"));
  EXPECT_TRUE(Match("lang EXISTS", "lang=de"));
  EXPECT_FALSE(Match("lang exists", "langs=de"));
}

TEST(FilterTest, BooleanStructureAndPrecedence) {
  const char* p = "lang=en year=2021 tag=news";
  EXPECT_TRUE(Match("lang = en AND year > 2020", p));
  EXPECT_FALSE(Match("lang = en AND year > 2021", p));
  EXPECT_TRUE(Match("lang = fr OR year = 2021", p));
  EXPECT_TRUE(Match("NOT lang = fr", p));
  EXPECT_FALSE(Match("not (lang = en)", p));
  // AND binds tighter than OR: a OR (b AND c).
  EXPECT_TRUE(Match("lang = en OR tag = x AND year = 1", p));
  EXPECT_FALSE(Match("(lang = en OR tag = x) AND year = 1", p));
  EXPECT_TRUE(Match("((((lang = en))))", p));
  EXPECT_TRUE(Match("NOT missing EXISTS AND (tag IN (news) OR year < 0)", p));
  EXPECT_FALSE(Match("lang = en", ""));
  EXPECT_TRUE(Match("NOT lang = en", ""));
}

TEST(FilterTest, Errors) {
  EXPECT_EQ(ParseError(""), "empty expression");
  EXPECT_EQ(ParseError("   "), "empty expression");
  EXPECT_EQ(ParseError("lang"),
            "expected =, IN, >, >=, <, <=, BETWEEN or EXISTS after field 'lang' but the "
            "expression ended");
  EXPECT_EQ(ParseError("lang ="), "expected a value after '=' but the expression ended");
  EXPECT_EQ(ParseError("(lang = en"), "expected ')' but the expression ended");
  EXPECT_EQ(ParseError("lang = en)"), "expected end of expression at offset 9, got ')'");
  EXPECT_EQ(ParseError("y > abc"), "expected an integer after '>' at offset 4, got 'abc'");
  EXPECT_EQ(ParseError("y BETWEEN 1 3"), "expected AND in BETWEEN a AND b at offset 12, got '3'");
  EXPECT_EQ(ParseError("a IN x"), "expected '(' after IN at offset 5, got 'x'");
  EXPECT_EQ(ParseError("a IN (1 2)"), "expected ',' or ')' in IN (...) at offset 8, got '2'");
  EXPECT_EQ(ParseError("a IN ()"), "expected a value in IN (...) at offset 6, got ')'");
  EXPECT_EQ(ParseError("AND a = 1"), "expected a field name or '(' at offset 0, got 'AND'");
  EXPECT_EQ(ParseError("a = \"x"), "unterminated string at offset 4");
  EXPECT_EQ(ParseError("a = 1 b = 2"), "expected end of expression at offset 6, got 'b'");
  EXPECT_EQ(ParseError(std::string(100, '(') + "a EXISTS" + std::string(100, ')')),
            "nesting deeper than 64");
  EXPECT_EQ(ParseError(std::string(kMaxFilterBytes + 1, ' ')),
            "expression longer than 65536 bytes");
}

TEST(FilterTest, DeepNotChainsAreBounded) {
  // NOT takes one atom, so "NOT NOT x" is an error rather than unbounded recursion.
  EXPECT_EQ(ParseError("NOT NOT a EXISTS"), "expected a field name or '(' at offset 4, got 'NOT'");
  EXPECT_TRUE(Match("NOT (NOT a EXISTS)", "a=1"));
}

}  // namespace
}  // namespace skeg::index
