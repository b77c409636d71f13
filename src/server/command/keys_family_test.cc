// Generic key commands through the real dispatch path, with Redis 7's exact replies.
#include <set>
#include <string>

#include "server/command/command_test_base.h"

namespace skeg::server::testing {
namespace {

using KeysFamilyTest = CommandTest;

TEST_F(KeysFamilyTest, DelUnlinkExists) {
  EXPECT_EQ(Run({"MSET", "a", "1", "b", "2", "c", "3"}), "OK");
  EXPECT_EQ(Run({"EXISTS", "a", "a", "x", "b"}), "(integer) 3");
  EXPECT_EQ(Run({"DEL", "a", "a", "x"}), "(integer) 1");
  EXPECT_EQ(Run({"UNLINK", "b", "c"}), "(integer) 2");
  EXPECT_EQ(Run({"EXISTS", "a", "b", "c"}), "(integer) 0");
  EXPECT_EQ(Run({"DEL"}), "ERR wrong number of arguments for 'del' command");
}

TEST_F(KeysFamilyTest, ExpireFamily) {
  EXPECT_EQ(Run({"EXPIRE", "k", "10"}), "(integer) 0");
  EXPECT_EQ(Run({"SET", "k", "v"}), "OK");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) -1");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) -1");
  EXPECT_EQ(Run({"EXPIRETIME", "k"}), "(integer) -1");
  EXPECT_EQ(Run({"TTL", "nope"}), "(integer) -2");
  EXPECT_EQ(Run({"PEXPIRETIME", "nope"}), "(integer) -2");
  EXPECT_EQ(Run({"EXPIRE", "k", "100", "XX"}), "(integer) 0");
  EXPECT_EQ(Run({"EXPIRE", "k", "100", "GT"}), "(integer) 0");
  EXPECT_EQ(Run({"EXPIRE", "k", "100", "NX"}), "(integer) 1");
  EXPECT_EQ(Run({"EXPIRE", "k", "200", "NX"}), "(integer) 0");
  EXPECT_EQ(Run({"EXPIRE", "k", "50", "GT"}), "(integer) 0");
  EXPECT_EQ(Run({"EXPIRE", "k", "200", "GT"}), "(integer) 1");
  EXPECT_EQ(Run({"EXPIRE", "k", "300", "LT"}), "(integer) 0");
  EXPECT_EQ(Run({"EXPIRE", "k", "150", "LT", "XX"}), "(integer) 1");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) 150");
  EXPECT_EQ(Run({"EXPIRETIME", "k"}), "(integer) " + std::to_string(kStartMs / 1000 + 150));
  EXPECT_EQ(Run({"PEXPIRE", "k", "1234"}), "(integer) 1");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) 1234");
  EXPECT_EQ(Run({"PEXPIRETIME", "k"}), "(integer) " + std::to_string(kStartMs + 1234));
  EXPECT_EQ(Run({"EXPIREAT", "k", std::to_string(kStartMs / 1000 + 42)}), "(integer) 1");
  EXPECT_EQ(Run({"TTL", "k"}), "(integer) 42");
  EXPECT_EQ(Run({"PEXPIREAT", "k", std::to_string(kStartMs + 99)}), "(integer) 1");
  EXPECT_EQ(Run({"PTTL", "k"}), "(integer) 99");
  EXPECT_EQ(Run({"PERSIST", "k"}), "(integer) 1");
  EXPECT_EQ(Run({"PERSIST", "k"}), "(integer) 0");
  EXPECT_EQ(Run({"PERSIST", "nope"}), "(integer) 0");
  EXPECT_EQ(Run({"EXPIRE", "k", "100", "LT"}), "(integer) 1");  // no TTL counts as infinite
  // A time in the past deletes the key and counts as set.
  EXPECT_EQ(Run({"EXPIRE", "k", "-1"}), "(integer) 1");
  EXPECT_EQ(Run({"EXISTS", "k"}), "(integer) 0");
}

TEST_F(KeysFamilyTest, ExpireErrors) {
  EXPECT_EQ(Run({"SET", "k", "v"}), "OK");
  EXPECT_EQ(Run({"EXPIRE", "k", "x"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"EXPIRE", "k", "10", "FOO"}), "ERR Unsupported option FOO");
  EXPECT_EQ(Run({"EXPIRE", "k", "10", "NX", "XX"}),
            "ERR NX and XX, GT or LT options at the same time are not compatible");
  EXPECT_EQ(Run({"EXPIRE", "k", "10", "GT", "LT"}),
            "ERR GT and LT options at the same time are not compatible");
  EXPECT_EQ(Run({"EXPIRE", "k", "9223372036854775807"}),
            "ERR invalid expire time in 'expire' command");
  EXPECT_EQ(Run({"PEXPIRE", "k", "9223372036854775807"}),
            "ERR invalid expire time in 'pexpire' command");
  EXPECT_EQ(Run({"EXPIREAT", "k", "-9223372036854775808"}),
            "ERR invalid expire time in 'expireat' command");
  EXPECT_EQ(Run({"EXPIRE", "k"}), "ERR wrong number of arguments for 'expire' command");
}

TEST_F(KeysFamilyTest, TypeKeysScan) {
  EXPECT_EQ(Run({"TYPE", "k"}), "none");
  EXPECT_EQ(Run({"MSET", "user:1", "a", "user:2", "b", "item:1", "c"}), "OK");
  EXPECT_EQ(Run({"TYPE", "user:1"}), "string");
  RespValue keys = RunValue({"KEYS", "user:*"});
  std::set<std::string> got;
  for (const auto& e : keys.elems) got.insert(e.str);
  EXPECT_EQ(got, (std::set<std::string>{"user:1", "user:2"}));
  EXPECT_EQ(RunValue({"KEYS", "*"}).elems.size(), 3u);
  EXPECT_EQ(Run({"KEYS", "nothing*"}), "[]");

  std::set<std::string> scanned;
  std::string cursor = "0";
  do {
    RespValue page = runner_->Run({"SCAN", cursor, "MATCH", "user:*", "COUNT", "1"});
    ASSERT_EQ(page.elems.size(), 2u) << page.ToString();
    cursor = page.elems[0].str;
    for (const auto& e : page.elems[1].elems) scanned.insert(e.str);
  } while (cursor != "0");
  EXPECT_EQ(scanned, (std::set<std::string>{"user:1", "user:2"}));
  RespValue typed = RunValue({"SCAN", "0", "COUNT", "100", "TYPE", "hash"});
  EXPECT_TRUE(typed.elems[1].elems.empty());
  typed = RunValue({"SCAN", "0", "COUNT", "100", "TYPE", "string"});
  EXPECT_EQ(typed.elems[1].elems.size(), 3u);
  EXPECT_EQ(Run({"SCAN", "x"}), "ERR invalid cursor");
  EXPECT_EQ(Run({"SCAN", " 1"}), "ERR invalid cursor");
  EXPECT_EQ(Run({"SCAN", "0", "COUNT", "0"}), "ERR syntax error");
  EXPECT_EQ(Run({"SCAN", "0", "COUNT", "x"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"SCAN", "0", "FOO", "x"}), "ERR syntax error");
  EXPECT_EQ(Run({"SCAN", "0", "MATCH"}), "ERR syntax error");
}

TEST_F(KeysFamilyTest, RenameRenameNxCopy) {
  EXPECT_EQ(Run({"RENAME", "a", "b"}), "ERR no such key");
  EXPECT_EQ(Run({"RENAMENX", "a", "b"}), "ERR no such key");
  EXPECT_EQ(Run({"SET", "a", "1", "EX", "100"}), "OK");
  EXPECT_EQ(Run({"RENAME", "a", "a"}), "OK");
  EXPECT_EQ(Run({"RENAMENX", "a", "a"}), "(integer) 0");
  EXPECT_EQ(Run({"RENAME", "a", "b"}), "OK");
  EXPECT_EQ(Run({"EXISTS", "a"}), "(integer) 0");
  EXPECT_EQ(Run({"GET", "b"}), "\"1\"");
  EXPECT_EQ(Run({"TTL", "b"}), "(integer) 100");
  EXPECT_EQ(Run({"SET", "c", "2"}), "OK");
  EXPECT_EQ(Run({"RENAMENX", "b", "c"}), "(integer) 0");
  EXPECT_EQ(Run({"RENAMENX", "b", "d"}), "(integer) 1");
  EXPECT_EQ(Run({"COPY", "d", "c"}), "(integer) 0");
  EXPECT_EQ(Run({"COPY", "d", "c", "REPLACE"}), "(integer) 1");
  EXPECT_EQ(Run({"GET", "c"}), "\"1\"");
  EXPECT_EQ(Run({"TTL", "c"}), "(integer) 100");
  EXPECT_EQ(Run({"COPY", "d", "e", "DB", "0"}), "(integer) 1");
  EXPECT_EQ(Run({"COPY", "nope", "f"}), "(integer) 0");
  EXPECT_EQ(Run({"COPY", "d", "d"}), "ERR source and destination objects are the same");
  EXPECT_EQ(Run({"COPY", "d", "e", "DB", "1"}), "ERR DB index is out of range");
  EXPECT_EQ(Run({"COPY", "d", "e", "DB", "x"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"COPY", "d", "e", "FOO"}), "ERR syntax error");
  EXPECT_EQ(Run({"COPY", "d", "e", "DB"}), "ERR syntax error");
}

}  // namespace
}  // namespace skeg::server::testing
