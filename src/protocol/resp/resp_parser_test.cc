#include "protocol/resp/resp_parser.h"

#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/request.h"
#include "protocol/resp/resp_writer.h"

namespace skeg::protocol::resp {
namespace {

using ::testing::ElementsAre;
using namespace std::string_literals;

using Args = std::vector<std::string>;

Args Copy(const Request& request) { return Args(request.begin(), request.end()); }

// What a connection observes for one input stream: the requests, in order, then either the
// protocol error or the number of bytes still waiting for the rest of a request.
struct Outcome {
  std::vector<Args> requests;
  std::string error;
  size_t pending_bytes = 0;
  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << o.requests.size() << " requests, error='" << o.error << "', pending=" << o.pending_bytes;
}

// Feeds `chunks` one by one into a buffer the way a connection does: append what the socket
// delivered, parse until kNeedMore, drop consumed bytes. Appending may move the buffer, which
// the parser must tolerate.
Outcome Feed(const std::vector<std::string_view>& chunks, const ParserOptions& options = {}) {
  RespParser parser(options);
  Request request;
  std::string buffer;
  Outcome outcome;
  for (std::string_view chunk : chunks) {
    buffer.append(chunk);
    while (true) {
      const ParseResult r = parser.Parse(buffer, &request);
      if (r.status == ParseStatus::kError) {
        EXPECT_EQ(r.consumed, 0u);
        EXPECT_TRUE(request.empty());
        outcome.error = std::string(parser.error());
        return outcome;
      }
      if (r.status == ParseStatus::kOk) {
        EXPECT_GT(r.consumed, 0u);
        outcome.requests.push_back(Copy(request));
      } else {
        EXPECT_TRUE(request.empty());
      }
      EXPECT_LE(r.consumed, buffer.size());
      buffer.erase(0, r.consumed);
      if (r.status == ParseStatus::kNeedMore) break;
    }
  }
  outcome.pending_bytes = buffer.size();
  return outcome;
}

Outcome OneShot(std::string_view input, const ParserOptions& options = {}) {
  return Feed({input}, options);
}

Outcome ByteByByte(std::string_view input, const ParserOptions& options = {}) {
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < input.size(); ++i) chunks.push_back(input.substr(i, 1));
  return Feed(chunks, options);
}

Outcome RandomChunks(std::string_view input, std::mt19937* rng, const ParserOptions& options = {}) {
  std::vector<std::string_view> chunks;
  size_t pos = 0;
  while (pos < input.size()) {
    const size_t n = std::uniform_int_distribution<size_t>(1, 17)(*rng);
    chunks.push_back(input.substr(pos, n));
    pos += std::min(n, input.size() - pos);
  }
  return Feed(chunks, options);
}

// Parses a complete single request; fails the test otherwise.
Args ParseOne(std::string_view input) {
  const Outcome o = OneShot(input);
  EXPECT_EQ(o.error, "") << input;
  EXPECT_EQ(o.pending_bytes, 0u) << input;
  EXPECT_EQ(o.requests.size(), 1u) << input;
  return o.requests.empty() ? Args{} : o.requests[0];
}

std::string ErrorOf(std::string_view input, const ParserOptions& options = {}) {
  return OneShot(input, options).error;
}

// ---------------------------------------------------------------------------------------------
// Multibulk

TEST(RespParserTest, Multibulk) {
  EXPECT_THAT(ParseOne("*1\r\n$4\r\nPING\r\n"), ElementsAre("PING"));
  EXPECT_THAT(ParseOne("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"), ElementsAre("SET", "k", ""));
  EXPECT_THAT(ParseOne("*2\r\n$3\r\nGET\r\n$6\r\na\0\r\n*$\r\n"s),
              ElementsAre("GET", "a\0\r\n*$"s));
}

TEST(RespParserTest, PeekGivesTheKeyOnceItIsThereAndTheSizeOnceTheWholeRequestIs) {
  const std::string wire = "*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$1\r\nv\r\n";
  EXPECT_EQ(RespParser::Peek(wire).key, "key:1");
  EXPECT_EQ(RespParser::Peek(wire).size, wire.size());
  EXPECT_EQ(RespParser::Peek(wire + "*1\r\n").size, wire.size());  // the next request's start
  // The key needs the headers and bytes of the first two arguments; the size needs all.
  constexpr size_t kThroughKey = 22;  // "*3\r\n$3\r\nSET\r\n$5\r\nkey:1"
  for (size_t n = 0; n < wire.size(); ++n) {
    const RespParser::Peeked p = RespParser::Peek(std::string_view(wire).substr(0, n));
    EXPECT_EQ(p.key, n >= kThroughKey ? "key:1" : "") << n;
    EXPECT_EQ(p.size, 0u) << n;
  }
  EXPECT_EQ(RespParser::Peek("*1\r\n$4\r\nPING\r\n").key, "");  // no key
  EXPECT_EQ(RespParser::Peek("*1\r\n$4\r\nPING\r\n").size, 14u);
  EXPECT_EQ(RespParser::Peek("GET key\r\n").size, 0u);  // inline: not peeked
  EXPECT_EQ(RespParser::Peek("GET key\r\n").key, "");
  EXPECT_EQ(RespParser::Peek("*0\r\n").size, 0u);
  EXPECT_EQ(RespParser::Peek("*2\r\n$-1\r\n$1\r\nk\r\n").size, 0u);
  EXPECT_EQ(RespParser::Peek("*2\r\n$3\r\nGET\r\n$99999999999999999999999\r\nk").key, "");
  EXPECT_EQ(RespParser::Peek("*2\r\n$18446744073709551615\r\nGET\r\n$1\r\nk\r\n").key, "");
  EXPECT_EQ(RespParser::Peek("*2\r\n$3\r\nGET\r\n$0\r\n\r\n").key, "");  // empty key
  EXPECT_EQ(RespParser::Peek("*2\r\n$3\r\nGET\r\n$0\r\n\r\n").size, 19u);
  // Up to kPeekMaxArguments arguments are walked; a longer request gives its key only.
  const auto mset = [](size_t pairs) {
    std::vector<std::string> names;
    for (size_t i = 0; i < pairs; ++i) names.push_back("k" + std::to_string(i));
    std::vector<std::string_view> args = {"MSET"};
    for (const std::string& name : names) {
      args.push_back(name);
      args.push_back("v");
    }
    std::string out;
    AppendRequest(args, &out);
    return out;
  };
  const std::string fits = mset((RespParser::kPeekMaxArguments - 1) / 2);
  EXPECT_EQ(RespParser::Peek(fits).size, fits.size());
  const std::string too_long = mset(RespParser::kPeekMaxArguments / 2);
  EXPECT_EQ(RespParser::Peek(too_long).size, 0u);
  EXPECT_EQ(RespParser::Peek(too_long).key, "k0");
  // Whatever Peek returns for bytes that parse is the parsed second argument and size.
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = wire;
    for (int j = 0; j < 3; ++j) bytes[rng() % bytes.size()] = "*$\r\n0123456789kX"[rng() % 17];
    RespParser parser;
    Request request;
    const RespParser::Peeked peeked = RespParser::Peek(bytes);
    const ParseResult r = parser.Parse(bytes, &request);
    if (r.status == ParseStatus::kOk && !peeked.key.empty()) {
      ASSERT_GE(request.size(), 2u) << bytes;
      EXPECT_EQ(request[1], peeked.key) << bytes;
    }
    if (r.status == ParseStatus::kOk && peeked.size != 0) {
      EXPECT_EQ(r.consumed, peeked.size);
    }
  }
}

TEST(RespParserTest, ConsumedCoversExactlyOneRequest) {
  const std::string one = "*1\r\n$4\r\nPING\r\n";
  const std::string input = one + one + "*1\r\n$4\r\nPI";
  RespParser parser;
  Request request;
  ParseResult r = parser.Parse(input, &request);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, one.size());
  r = parser.Parse(std::string_view(input).substr(one.size()), &request);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, one.size());
  r = parser.Parse(std::string_view(input).substr(2 * one.size()), &request);
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(request.empty());
}

TEST(RespParserTest, MultibulkViewsPointIntoTheInput) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  RespParser parser;
  Request request;
  ASSERT_EQ(parser.Parse(input, &request).status, ParseStatus::kOk);
  EXPECT_EQ(request[0].data(), input.data() + 8);
  EXPECT_EQ(request[1].data(), input.data() + 17);
  EXPECT_EQ(request.command(), "GET");
}

TEST(RespParserTest, EmptyMultibulkIsSkipped) {
  const std::string input = "*0\r\n*-1\r\n*-7\r\n*1\r\n$4\r\nPING\r\n";
  RespParser parser;
  Request request;
  const ParseResult r = parser.Parse(input, &request);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, input.size());
  EXPECT_THAT(Copy(request), ElementsAre("PING"));
}

TEST(RespParserTest, SkippedBytesAreConsumedEvenWhenMoreIsNeeded) {
  RespParser parser;
  Request request;
  ParseResult r = parser.Parse("*0\r\n*-1\r\n", &request);
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 9u);
  r = parser.Parse("*0\r\n*1\r\n$4\r\nPI", &request);
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 4u);
  r = parser.Parse("*1\r\n$4\r\nPING\r\n", &request);  // the caller dropped the 4 bytes
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, 14u);
}

TEST(RespParserTest, RequestObjectIsReused) {
  RespParser parser;
  Request request;
  ASSERT_EQ(parser.Parse("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", &request).status,
            ParseStatus::kOk);
  ASSERT_EQ(parser.Parse("*1\r\n$1\r\nz\r\n", &request).status, ParseStatus::kOk);
  EXPECT_THAT(Copy(request), ElementsAre("z"));
}

// ---------------------------------------------------------------------------------------------
// Inline

TEST(RespParserTest, InlineCommands) {
  EXPECT_THAT(ParseOne("PING\r\n"), ElementsAre("PING"));
  EXPECT_THAT(ParseOne("PING\n"), ElementsAre("PING"));
  EXPECT_THAT(ParseOne("  SET  a \t b  \r\n"), ElementsAre("SET", "a", "b"));
  EXPECT_THAT(ParseOne("\r\n\n   \r\nPING\r\n"), ElementsAre("PING"));  // blank lines skipped
  EXPECT_THAT(ParseOne("GET a\r\r\n"), ElementsAre("GET", "a"));  // one '\r' stripped, one blank
}

TEST(RespParserTest, InlineViewsSurviveTheInputBuffer) {
  std::string input = "SET \"a b\" c\r\n";
  RespParser parser;
  Request request;
  ASSERT_EQ(parser.Parse(input, &request).status, ParseStatus::kOk);
  input.assign(input.size(), 'x');  // inline arguments live in the parser's scratch
  EXPECT_THAT(Copy(request), ElementsAre("SET", "a b", "c"));
}

struct InlineCase {
  std::string line;
  Args args;  // empty + error below means "unbalanced quotes"
};

TEST(RespParserTest, InlineQuotingFollowsSdssplitargs) {
  const InlineCase cases[] = {
      {R"(set "a b" 'c d')", {"set", "a b", "c d"}},
      {R"("\x41\x4a\x7A")", {"AJz"}},
      {R"("\x4g")", {"x4g"}},
      {R"("\xZZ")", {"xZZ"}},
      {R"("a\nb\tc\rd\be\af\"g\\h\qi")", {"a\nb\tc\rd\be\af\"g\\hqi"}},
      {R"('it\'s')", {"it's"}},
      {R"('a\nb')", {"a\\nb"}},
      {R"('a"b')", {"a\"b"}},
      {R"("a'b")", {"a'b"}},
      {R"(SET k "")", {"SET", "k", ""}},
      {R"('' x)", {"", "x"}},
      {R"(a"b c" d)", {"ab c", "d"}},
      {R"(a'b c'	d)", {"ab c", "d"}},
      {"\va\vb c\f", {"a\vb", "c\f"}},
      {"GET a\0b c"s, {"GET", "a"}},
      {"\0GET"s, {}},
  };
  for (const InlineCase& c : cases) {
    const Outcome o = OneShot(c.line + "\r\n");
    EXPECT_EQ(o.error, "") << c.line;
    if (c.args.empty()) {
      EXPECT_TRUE(o.requests.empty()) << c.line;
      EXPECT_EQ(o.pending_bytes, 0u);
    } else {
      ASSERT_EQ(o.requests.size(), 1u) << c.line;
      EXPECT_EQ(o.requests[0], c.args) << c.line;
    }
  }
}

TEST(RespParserTest, InlineUnbalancedQuotes) {
  const std::string kText = "Protocol error: unbalanced quotes in request";
  for (const std::string& line :
       std::vector<std::string>{R"(SET "abc)", R"(SET 'abc)", R"("abc"def)", R"('abc'def)",
                                R"("a\")", R"('a\')", R"("\)", "\"a\0\""s, R"(a "b" "c)"}) {
    EXPECT_EQ(ErrorOf(line + "\r\n"), kText) << line;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: Redis's exact texts

TEST(RespParserTest, InvalidMultibulkLength) {
  const std::string kText = "Protocol error: invalid multibulk length";
  for (std::string_view input :
       {"*abc\r\n", "*\r\n", "*01\r\n", "*+1\r\n", "*-0\r\n", "* 1\r\n", "*1 \r\n", "*1048577\r\n",
        "*99999999999999999999\r\n", "*-99999999999999999999\r\n", "*1\rX", "*1\r\r\n"}) {
    EXPECT_EQ(ErrorOf(input), kText) << input;
  }
  EXPECT_EQ(OneShot("*1048576\r\n").pending_bytes, 10u);  // the limit itself is accepted
}

TEST(RespParserTest, InvalidBulkLength) {
  const std::string kText = "Protocol error: invalid bulk length";
  for (std::string_view input :
       {"*1\r\n$-1\r\n", "*1\r\n$-5\r\n", "*1\r\n$abc\r\n", "*1\r\n$\r\n", "*1\r\n$01\r\n",
        "*1\r\n$536870913\r\n", "*1\r\n$99999999999999999999\r\n", "*1\r\n$3\r\nabcXY",
        "*1\r\n$3\r\nabc\n\r", "*2\r\n$1\r\na\r\n$1\rb"}) {
    EXPECT_EQ(ErrorOf(input), kText) << input;
  }
}

TEST(RespParserTest, ExpectedDollar) {
  EXPECT_EQ(ErrorOf("*1\r\nX"), "Protocol error: expected '$', got 'X'");
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
  EXPECT_EQ(ErrorOf("*1\r\n*1\r\n$1\r\na\r\n"), "Protocol error: expected '$', got '*'");
  EXPECT_EQ(ErrorOf("*1\r\n\r\n"), "Protocol error: expected '$', got '\r'");
}

TEST(RespParserTest, TooBigInlineRequest) {
  const std::string kText = "Protocol error: too big inline request";
  const size_t kMax = 64 * 1024;
  EXPECT_EQ(ErrorOf(std::string(kMax + 1, 'a')), kText);
  EXPECT_EQ(ErrorOf(std::string(kMax + 1, 'a') + "\n"), kText);
  EXPECT_EQ(OneShot(std::string(kMax, 'a')).pending_bytes, kMax);
  EXPECT_EQ(OneShot(std::string(kMax, 'a') + "\n").requests.size(), 1u);
}

TEST(RespParserTest, TooBigCountStrings) {
  const size_t kMax = 64 * 1024;
  EXPECT_EQ(ErrorOf("*" + std::string(kMax, '1')), "Protocol error: too big mbulk count string");
  EXPECT_EQ(ErrorOf("*1\r\n$" + std::string(kMax, '1')),
            "Protocol error: too big bulk count string");
  // Just below the limit the parser waits for the terminator...
  EXPECT_EQ(OneShot("*" + std::string(kMax - 1, '1')).pending_bytes, kMax);
  // ...and then rejects the number.
  EXPECT_EQ(ErrorOf("*" + std::string(kMax - 1, '1') + "\r\n"),
            "Protocol error: invalid multibulk length");
}

TEST(RespParserTest, ConfiguredLimits) {
  ParserOptions options;
  options.max_bulk_bytes = 4;
  options.max_multibulk_elements = 2;
  options.max_inline_bytes = 8;
  EXPECT_THAT(OneShot("*2\r\n$4\r\nabcd\r\n$0\r\n\r\n", options).requests,
              ElementsAre(Args{"abcd", ""}));
  EXPECT_EQ(ErrorOf("*1\r\n$5\r\n", options), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*3\r\n", options), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("123456789", options), "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf("*000000001", options), "Protocol error: too big mbulk count string");
  EXPECT_EQ(OneShot("12345678\n", options).requests.size(), 1u);
}

TEST(RespParserTest, OptionsValidate) {
  EXPECT_TRUE(ParserOptions{}.Validate().ok());
  ParserOptions zero;
  zero.max_inline_bytes = 0;
  EXPECT_TRUE(zero.Validate().IsInvalidArgument());
  ParserOptions huge;
  huge.max_bulk_bytes = size_t{1} << 50;
  EXPECT_TRUE(huge.Validate().IsInvalidArgument());
}

TEST(RespParserTest, ErrorIsStickyUntilReset) {
  RespParser parser;
  Request request;
  EXPECT_EQ(parser.Parse("*x\r\n", &request).status, ParseStatus::kError);
  const ParseResult again = parser.Parse("*1\r\n$4\r\nPING\r\n", &request);
  EXPECT_EQ(again.status, ParseStatus::kError);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(parser.error(), "Protocol error: invalid multibulk length");
  parser.Reset();
  EXPECT_EQ(parser.error(), "");
  EXPECT_EQ(parser.Parse("*1\r\n$4\r\nPING\r\n", &request).status, ParseStatus::kOk);
}

TEST(RespParserTest, ResetDropsAPartialRequest) {
  RespParser parser;
  Request request;
  EXPECT_EQ(parser.Parse("*2\r\n$3\r\nGET\r\n", &request).status, ParseStatus::kNeedMore);
  parser.Reset();
  ASSERT_EQ(parser.Parse("PING\r\n", &request).status, ParseStatus::kOk);
  EXPECT_THAT(Copy(request), ElementsAre("PING"));
}

// ---------------------------------------------------------------------------------------------
// Resumption

TEST(RespParserTest, LargeBulkArrivesInChunksWithoutRescanning) {
  const std::string value(8 << 20, 'v');
  const std::string input = EncodeRequest({"SET", "key", value});
  RespParser parser;
  Request request;
  std::string buffer;
  size_t offered = 0;
  size_t calls = 0;
  ParseResult r{ParseStatus::kNeedMore, 0};
  while (r.status == ParseStatus::kNeedMore) {
    const size_t n = std::min<size_t>(64 << 10, input.size() - offered);
    ASSERT_GT(n, 0u);
    buffer.append(input, offered, n);
    offered += n;
    r = parser.Parse(buffer, &request);
    ++calls;
    if (r.status == ParseStatus::kNeedMore && offered > 100) {
      // Once the header is read the parser knows exactly how much it needs.
      EXPECT_EQ(parser.RequiredInputBytes(), input.size());
    }
  }
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, input.size());
  EXPECT_EQ(calls, (input.size() + (64 << 10) - 1) / (64 << 10));
  ASSERT_EQ(request.size(), 3u);
  EXPECT_EQ(request[2].size(), value.size());
  EXPECT_EQ(request[2].data(), buffer.data() + input.size() - value.size() - 2);
}

TEST(RespParserTest, RequiredInputBytesForHeaders) {
  RespParser parser;
  Request request;
  EXPECT_EQ(parser.Parse("*1\r\n$1", &request).status, ParseStatus::kNeedMore);
  EXPECT_EQ(parser.RequiredInputBytes(), 7u);
  EXPECT_EQ(parser.Parse("*1\r\n$10\r\n", &request).status, ParseStatus::kNeedMore);
  EXPECT_EQ(parser.RequiredInputBytes(), 9u + 12u);
}

TEST(RespParserTest, HugeDeclaredSizesOnlyWait) {
  // The maximum count and length are accepted without allocating for them up front.
  EXPECT_EQ(OneShot("*1048576\r\n$536870912\r\nabc").pending_bytes, 25u);
}

// A corpus of pipelined streams mixing every feature, used by the split tests.
std::vector<std::string> Corpus() {
  std::vector<std::string> corpus;
  corpus.push_back("*1\r\n$4\r\nPING\r\n");
  corpus.push_back(EncodeRequest({"SET", "key", "value"}) + EncodeRequest({"GET", "key"}) +
                   "*0\r\n*-1\r\n" + EncodeRequest({"DEL", "a", "b", "c"}));
  corpus.push_back("PING\r\nECHO \"hello world\"\r\n\r\nSET k 'it\\'s'\nGET k\r\n");
  corpus.push_back(EncodeRequest({"HSET", "\r\n\r\n", "*1\r\n$4\r\n", "", "\0\0"s}) +
                   "INLINE \"\\x00\\xff\" x\r\n" + EncodeRequest({""}));
  corpus.push_back(EncodeRequest({"SET", "big", std::string(70000, 'z')}) + "PING\n");
  corpus.push_back("\r\n\n*0\r\n  \r\n*1\r\n$1\r\nx\r\n*-1\r\nquit\r\n");
  // Streams that end in errors after some good requests.
  corpus.push_back("PING\r\n*1\r\n$3\r\nabcXY");
  corpus.push_back(EncodeRequest({"GET", "k"}) + "*2\r\n$1\r\na\r\n:1\r\n");
  corpus.push_back("PING\r\nSET \"unterminated\r\n");
  corpus.push_back("*1\r\n$-1\r\n");
  corpus.push_back("*1x\r\n");
  corpus.push_back("ECHO ok\r\n" + std::string(70000, 'a'));
  corpus.push_back("*1\r\n$" + std::string(70000, '9'));
  // A stream that ends mid-request.
  corpus.push_back(EncodeRequest({"SET", "k", "v"}) + "*2\r\n$3\r\nGET\r\n$1");
  return corpus;
}

TEST(RespParserSplitTest, EverySingleSplitPointParsesIdentically) {
  for (const std::string& input : Corpus()) {
    const Outcome expected = OneShot(input);
    for (size_t k = 0; k <= input.size(); ++k) {
      // Inputs over 64 KiB: every point near the ends and the 64 KiB limits, a sample between.
      const size_t n = input.size();
      const bool near_limit = k + 64 > (64 << 10) && k < (64 << 10) + 64;
      if (n > 4096 && k > 1024 && k + 1024 < n && k % 61 != 0 && !near_limit) continue;
      const std::string_view in(input);
      ASSERT_EQ(Feed({in.substr(0, k), in.substr(k)}), expected)
          << "split at " << k << " of " << input.substr(0, 40);
    }
  }
}

TEST(RespParserSplitTest, ByteByByteAndRandomChunks) {
  std::mt19937 rng(42);
  for (const std::string& input : Corpus()) {
    const Outcome expected = OneShot(input);
    EXPECT_EQ(ByteByByte(input), expected) << input.substr(0, 40);
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(RandomChunks(input, &rng), expected) << input.substr(0, 40);
    }
  }
}

TEST(RespParserSplitTest, CorpusOutcomes) {
  const std::vector<std::string> corpus = Corpus();
  EXPECT_EQ(OneShot(corpus[1]).requests.size(), 3u);
  EXPECT_THAT(OneShot(corpus[2]).requests, ElementsAre(Args{"PING"}, Args{"ECHO", "hello world"},
                                                       Args{"SET", "k", "it's"}, Args{"GET", "k"}));
  EXPECT_THAT(OneShot(corpus[3]).requests,
              ElementsAre(Args{"HSET", "\r\n\r\n", "*1\r\n$4\r\n", "", "\0\0"s},
                          Args{"INLINE", "\0\xff"s, "x"}, Args{""}));
  EXPECT_EQ(OneShot(corpus[6]).error, "Protocol error: invalid bulk length");
  EXPECT_EQ(OneShot(corpus[6]).requests.size(), 1u);
  EXPECT_EQ(OneShot(corpus[11]).error, "Protocol error: too big inline request");
  EXPECT_EQ(OneShot(corpus[12]).error, "Protocol error: too big bulk count string");
  EXPECT_EQ(OneShot(corpus.back()).pending_bytes, 15u);
}

// ---------------------------------------------------------------------------------------------
// Robustness: random input never crashes and never depends on how it is split.

std::string RandomStream(std::mt19937* rng) {
  static constexpr std::string_view kAlphabet = "*$\r\n\r\n0123456789-+ \"'\\xaZ\t\0";
  const size_t length = std::uniform_int_distribution<size_t>(0, 120)(*rng);
  std::string s;
  const bool structured = (*rng)() % 2 == 0;
  if (structured) s = EncodeRequest({"SET", "k", "v"});
  while (s.size() < length) {
    if (structured && (*rng)() % 8 == 0) {
      s += "*" + std::to_string((*rng)() % 4) + "\r\n$" + std::to_string((*rng)() % 5) + "\r\n";
    } else if ((*rng)() % 4 == 0) {
      s.push_back(static_cast<char>((*rng)() & 0xff));
    } else {
      s.push_back(kAlphabet[(*rng)() % kAlphabet.size()]);
    }
  }
  return s;
}

TEST(RespParserFuzzTest, RandomStreamsAreSplitIndependent) {
  std::mt19937 rng(1234);
  ParserOptions small;
  small.max_inline_bytes = 16;
  small.max_bulk_bytes = 8;
  small.max_multibulk_elements = 3;
  for (int i = 0; i < 3000; ++i) {
    const std::string input = RandomStream(&rng);
    for (const ParserOptions& options : {ParserOptions{}, small}) {
      const Outcome expected = OneShot(input, options);
      ASSERT_EQ(ByteByByte(input, options), expected) << testing::PrintToString(input);
      ASSERT_EQ(RandomChunks(input, &rng, options), expected) << testing::PrintToString(input);
    }
  }
}

TEST(RespParserFuzzTest, PureNoiseNeverCrashes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string input(std::uniform_int_distribution<size_t>(0, 256)(rng), '\0');
    for (char& c : input) c = static_cast<char>(rng() & 0xff);
    if (i % 2 == 0 && !input.empty()) input[0] = '*';
    const Outcome expected = OneShot(input);
    ASSERT_EQ(RandomChunks(input, &rng), expected);
  }
}

}  // namespace
}  // namespace skeg::protocol::resp
