// String commands through the real dispatch path, with Redis 7's exact replies.
#include <string>
#include <thread>
#include <vector>

#include "server/command/command_test_base.h"

namespace skeg::server::testing {
namespace {

using StringFamilyTest = CommandTest;

TEST_F(StringFamilyTest, GetSetBasics) {
  EXPECT_EQ(Run({"GET", "k"}), "(nil)");
  EXPECT_EQ(Run({"SET", "k", "v"}), "OK");
  EXPECT_EQ(Run({"GET", "k"}), "\"v\"");
  EXPECT_EQ(Run({"set", "k", ""}), "OK");
  EXPECT_EQ(Run({"GET", "k"}), "\"\"");
  EXPECT_EQ(Run({"SET", std::string("b\0in", 4), std::string("\r\n\0", 3)}), "OK");
  EXPECT_EQ(runner_->Run({"GET", std::string("b\0in", 4)}).str, std::string("\r\n\0", 3));
  EXPECT_EQ(Run({"GET"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(Run({"SET", "k"}), "ERR wrong number of arguments for 'set' command");
}

TEST_F(StringFamilyTest, SetConditionsAndGet) {
  EXPECT_EQ(Run({"SET", "k", "1", "XX"}), "(nil)");
  EXPECT_EQ(Run({"SET", "k", "1", "NX"}), "OK");
  EXPECT_EQ(Run({"SET", "k", "2", "NX"}), "(nil)");
  EXPECT_EQ(Run({"SET", "k", "3", "XX"}), "OK");
  EXPECT_EQ(Run({"SET", "k", "4", "GET"}), "\"3\"");
  EXPECT_EQ(Run({"SET", "new", "4", "GET"}), "(nil)");
  EXPECT_EQ(Run({"SET", "k", "5", "NX", "GET"}), "\"4\"");
  EXPECT_EQ(Run({"GET", "k"}), "\"4\"");
  EXPECT_EQ(Run({"SET", "k", "1", "NX", "XX"}), "ERR syntax error");
  EXPECT_EQ(Run({"SET", "k", "1", "XX", "NX"}), "ERR syntax error");
  EXPECT_EQ(Run({"SET", "k", "1", "FOO"}), "ERR syntax error");
  EXPECT_EQ(Run({"SET", "k", "1", "EX"}), "ERR syntax error");
}

TEST_F(StringFamilyTest, SetExpiryOptions) {
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "10"}), "OK");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) 10");
  EXPECT_EQ(Run({"SET", "k", "v", "PX", "1500"}), "OK");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) 1500");
  EXPECT_EQ(Run({"SET", "k", "v", "EXAT", std::to_string(kStartMs / 1000 + 100)}), "OK");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) 100");
  EXPECT_EQ(Run({"SET", "k", "v", "PXAT", std::to_string(kStartMs + 2500)}), "OK");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) 2500");
  EXPECT_EQ(Run({"SET", "k", "w", "KEEPTTL"}), "OK");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) 2500");
  EXPECT_EQ(Run({"SET", "k", "w"}), "OK");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) -1");
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "0"}), "ERR invalid expire time in 'set' command");
  EXPECT_EQ(Run({"SET", "k", "v", "PX", "-5"}), "ERR invalid expire time in 'set' command");
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "9223372036854775807"}),
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(Run({"SET", "k", "v", "PX", "9223372036854775807"}),
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "abc"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "10", "PX", "10"}), "ERR syntax error");
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "10", "KEEPTTL"}), "ERR syntax error");
  EXPECT_EQ(Run({"SET", "k", "v", "KEEPTTL", "PXAT", "10"}), "ERR syntax error");
  EXPECT_EQ(Run({"SET", "k", "v", "PERSIST"}), "ERR syntax error");
  // An absolute time in the past: the key is gone at once.
  EXPECT_EQ(Run({"SET", "k", "v", "PXAT", "1"}), "OK");
  EXPECT_EQ(Run({"EXISTS", "k"}), "(integer) 0");
}

TEST_F(StringFamilyTest, ExpiryIsEnforcedByTheClock) {
  EXPECT_EQ(Run({"SET", "k", "v", "PX", "100"}), "OK");
  Advance(99);
  EXPECT_EQ(Run({"GET", "k"}), "\"v\"");
  Advance(1);
  EXPECT_EQ(Run({"GET", "k"}), "(nil)");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) -2");
}

TEST_F(StringFamilyTest, SetNxSetExPSetEx) {
  EXPECT_EQ(Run({"SETNX", "k", "a"}), "(integer) 1");
  EXPECT_EQ(Run({"SETNX", "k", "b"}), "(integer) 0");
  EXPECT_EQ(Run({"SETEX", "k", "10", "c"}), "OK");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) 10");
  EXPECT_EQ(Run({"PSETEX", "k", "1000", "d"}), "OK");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) 1000");
  EXPECT_EQ(Run({"GET", "k"}), "\"d\"");
  EXPECT_EQ(Run({"SETEX", "k", "0", "c"}), "ERR invalid expire time in 'setex' command");
  EXPECT_EQ(Run({"PSETEX", "k", "-1", "c"}), "ERR invalid expire time in 'psetex' command");
  EXPECT_EQ(Run({"SETEX", "k", "x", "c"}), "ERR value is not an integer or out of range");
}

TEST_F(StringFamilyTest, GetSetGetDelGetEx) {
  EXPECT_EQ(Run({"GETSET", "k", "a"}), "(nil)");
  EXPECT_EQ(Run({"SET", "k", "a", "EX", "100"}), "OK");
  EXPECT_EQ(Run({"GETSET", "k", "b"}), "\"a\"");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) -1");
  EXPECT_EQ(Run({"GETDEL", "k"}), "\"b\"");
  EXPECT_EQ(Run({"GETDEL", "k"}), "(nil)");
  EXPECT_EQ(Run({"SET", "k", "v"}), "OK");
  EXPECT_EQ(Run({"GETEX", "k"}), "\"v\"");
  EXPECT_EQ(Run({"GETEX", "k", "EX", "50"}), "\"v\"");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) 50");
  EXPECT_EQ(Run({"GETEX", "k", "PERSIST"}), "\"v\"");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) -1");
  EXPECT_EQ(Run({"GETEX", "k", "PXAT", std::to_string(kStartMs + 700)}), "\"v\"");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) 700");
  EXPECT_EQ(Run({"GETEX", "missing", "EX", "5"}), "(nil)");
  EXPECT_EQ(Run({"GETEX", "k", "EX", "0"}), "ERR invalid expire time in 'getex' command");
  EXPECT_EQ(Run({"GETEX", "k", "PERSIST", "EX", "1"}), "ERR syntax error");
  EXPECT_EQ(Run({"GETEX", "k", "KEEPTTL"}), "ERR syntax error");
  EXPECT_EQ(Run({"GETEX", "k", "NX"}), "ERR syntax error");
}

TEST_F(StringFamilyTest, MGetMSetMSetNx) {
  EXPECT_EQ(Run({"MSET", "a", "1", "b", "2"}), "OK");
  EXPECT_EQ(Run({"MGET", "a", "x", "b"}), "[\"1\", (nil), \"2\"]");
  EXPECT_EQ(Run({"MSET", "a", "1", "b"}), "ERR wrong number of arguments for 'mset' command");
  EXPECT_EQ(Run({"MSETNX", "a", "9", "c", "3"}), "(integer) 0");
  EXPECT_EQ(Run({"GET", "c"}), "(nil)");
  EXPECT_EQ(Run({"MSETNX", "c", "3", "d", "4"}), "(integer) 1");
  EXPECT_EQ(Run({"MGET", "c", "d"}), "[\"3\", \"4\"]");
  EXPECT_EQ(Run({"MSETNX", "c"}), "ERR wrong number of arguments for 'msetnx' command");
  EXPECT_EQ(Run({"MSETNX", "e", "1", "f"}), "ERR wrong number of arguments for 'msetnx' command");
  EXPECT_EQ(Run({"MSET", "k", "1", "k", "2"}), "OK");
  EXPECT_EQ(Run({"GET", "k"}), "\"2\"");
}

TEST_F(StringFamilyTest, AppendStrlenRanges) {
  EXPECT_EQ(Run({"APPEND", "k", "Hello"}), "(integer) 5");
  EXPECT_EQ(Run({"APPEND", "k", " World"}), "(integer) 11");
  EXPECT_EQ(Run({"STRLEN", "k"}), "(integer) 11");
  EXPECT_EQ(Run({"STRLEN", "nope"}), "(integer) 0");
  EXPECT_EQ(Run({"GETRANGE", "k", "0", "4"}), "\"Hello\"");
  EXPECT_EQ(Run({"GETRANGE", "k", "-5", "-1"}), "\"World\"");
  EXPECT_EQ(Run({"GETRANGE", "k", "0", "-1"}), "\"Hello World\"");
  EXPECT_EQ(Run({"GETRANGE", "k", "5", "3"}), "\"\"");
  EXPECT_EQ(Run({"GETRANGE", "k", "-1", "-5"}), "\"\"");
  EXPECT_EQ(Run({"GETRANGE", "k", "0", "100"}), "\"Hello World\"");
  EXPECT_EQ(Run({"GETRANGE", "nope", "0", "1"}), "\"\"");
  EXPECT_EQ(Run({"GETRANGE", "k", "a", "1"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"SETRANGE", "k", "6", "Redis"}), "(integer) 11");
  EXPECT_EQ(Run({"GET", "k"}), "\"Hello Redis\"");
  EXPECT_EQ(Run({"SETRANGE", "pad", "3", "x"}), "(integer) 4");
  EXPECT_EQ(runner_->Run({"GET", "pad"}).str, std::string("\0\0\0x", 4));
  EXPECT_EQ(Run({"SETRANGE", "none", "5", ""}), "(integer) 0");
  EXPECT_EQ(Run({"EXISTS", "none"}), "(integer) 0");
  EXPECT_EQ(Run({"SETRANGE", "k", "100", ""}), "(integer) 11");
  EXPECT_EQ(Run({"SETRANGE", "k", "-1", "x"}), "ERR offset is out of range");
  EXPECT_EQ(Run({"SETRANGE", "k", "536870912", "x"}),
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  EXPECT_EQ(Run({"SETRANGE", "k", "x", "x"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"SET", "t", "a", "EX", "100"}), "OK");
  EXPECT_EQ(Run({"APPEND", "t", "b"}), "(integer) 2");
  EXPECT_EQ(Run({"TTL", "t"}), "(integer) 100");
}

TEST_F(StringFamilyTest, Counters) {
  EXPECT_EQ(Run({"INCR", "n"}), "(integer) 1");
  EXPECT_EQ(Run({"INCRBY", "n", "10"}), "(integer) 11");
  EXPECT_EQ(Run({"DECR", "n"}), "(integer) 10");
  EXPECT_EQ(Run({"DECRBY", "n", "20"}), "(integer) -10");
  EXPECT_EQ(Run({"SET", "n", "9223372036854775806"}), "OK");
  EXPECT_EQ(Run({"INCR", "n"}), "(integer) 9223372036854775807");
  EXPECT_EQ(Run({"INCR", "n"}), "ERR increment or decrement would overflow");
  EXPECT_EQ(Run({"SET", "n", "-9223372036854775808"}), "OK");
  EXPECT_EQ(Run({"DECR", "n"}), "ERR increment or decrement would overflow");
  EXPECT_EQ(Run({"DECRBY", "n", "-9223372036854775808"}), "ERR decrement would overflow");
  EXPECT_EQ(Run({"SET", "s", "abc"}), "OK");
  EXPECT_EQ(Run({"INCR", "s"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"SET", "s", " 1"}), "OK");
  EXPECT_EQ(Run({"INCR", "s"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"INCRBY", "n", "1.5"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"SET", "t", "5", "EX", "100"}), "OK");
  EXPECT_EQ(Run({"INCR", "t"}), "(integer) 6");
  EXPECT_EQ(Run({"TTL", "t"}), "(integer) 100");
}

TEST_F(StringFamilyTest, IncrByFloat) {
  EXPECT_EQ(Run({"SET", "f", "10.50"}), "OK");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "0.1"}), "\"10.6\"");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "-5"}), "\"5.6\"");
  EXPECT_EQ(Run({"SET", "f", "5.0e3"}), "OK");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "2.0e2"}), "\"5200\"");
  EXPECT_EQ(Run({"INCRBYFLOAT", "new", "3"}), "\"3\"");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "abc"}), "ERR value is not a valid float");
  EXPECT_EQ(Run({"SET", "s", "x"}), "OK");
  EXPECT_EQ(Run({"INCRBYFLOAT", "s", "1"}), "ERR value is not a valid float");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "inf"}), "ERR increment would produce NaN or Infinity");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "nan"}), "ERR value is not a valid float");
}

TEST_F(StringFamilyTest, ConcurrentIncrementsAreAtomic) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      auto client = runner_->NewClient();
      for (int i = 0; i < kIncrements; ++i) client->Run({"INCR", "counter"});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Run({"GET", "counter"}), "\"" + std::to_string(kThreads * kIncrements) + "\"");
}

}  // namespace
}  // namespace skeg::server::testing
