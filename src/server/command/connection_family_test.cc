// Connection commands and the gate (auth, arity, unknown commands, read-only mode).
#include <string>

#include "protocol/resp/resp_writer.h"
#include "server/command/command_test_base.h"
#include "storage/cache/page_cache.h"

namespace skeg::server::testing {
namespace {

using ConnectionFamilyTest = CommandTest;

TEST_F(ConnectionFamilyTest, PingEchoQuitSelect) {
  EXPECT_EQ(Run({"PING"}), "PONG");
  EXPECT_EQ(Run({"ping", "hi"}), "\"hi\"");
  EXPECT_EQ(Run({"PING", "a", "b"}), "ERR wrong number of arguments for 'ping' command");
  EXPECT_EQ(Run({"ECHO", "x"}), "\"x\"");
  EXPECT_EQ(Run({"ECHO"}), "ERR wrong number of arguments for 'echo' command");
  EXPECT_EQ(Run({"SELECT", "0"}), "OK");
  EXPECT_EQ(Run({"SELECT", "1"}), "ERR DB index is out of range");
  EXPECT_EQ(Run({"SELECT", "x"}), "ERR value is not an integer or out of range");
  bool closed = false;
  auto replies = runner_->main().Feed("*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n", &closed);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].ToString(), "OK");
  EXPECT_TRUE(closed);
}

TEST_F(ConnectionFamilyTest, UnknownCommandsAndSubcommands) {
  EXPECT_EQ(Run({"FOO", "a", "b"}),
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
  EXPECT_EQ(Run({"HSET", "h", "f", "v"}),
            "ERR unknown command 'HSET', with args beginning with: 'h' 'f' 'v' ");
  EXPECT_EQ(Run({"LPUSH"}), "ERR unknown command 'LPUSH', with args beginning with: ");
  EXPECT_EQ(Run({"CLIENT", "foo"}), "ERR unknown subcommand 'foo'. Try CLIENT HELP.");
  EXPECT_EQ(Run({"client"}), "ERR wrong number of arguments for 'client' command");
  EXPECT_EQ(Run({"CLIENT", "SETNAME"}),
            "ERR wrong number of arguments for 'client|setname' command");
}

TEST_F(ConnectionFamilyTest, HelloSwitchesProtocol) {
  RespValue hello = RunValue({"HELLO", "3"});
  ASSERT_EQ(hello.type, RespValue::Type::kMap) << hello.ToString();
  EXPECT_EQ(hello.elems.size(), 14u);
  EXPECT_EQ(hello.elems[0].str, "server");
  EXPECT_EQ(hello.elems[1].str, "skeg");
  EXPECT_EQ(hello.elems[4].str, "proto");
  EXPECT_EQ(hello.elems[5].integer, 3);
  EXPECT_EQ(hello.elems[8].str, "mode");
  EXPECT_EQ(hello.elems[9].str, "standalone");
  EXPECT_EQ(hello.elems[11].str, "master");
  EXPECT_EQ(hello.elems[13].type, RespValue::Type::kArray);
  EXPECT_EQ(RunValue({"GET", "missing"}).type, RespValue::Type::kNull);
  EXPECT_EQ(RunValue({"HELLO", "2"}).type, RespValue::Type::kArray);
  EXPECT_EQ(Run({"HELLO", "4"}), "NOPROTO unsupported protocol version");
  EXPECT_EQ(Run({"HELLO", "x"}), "ERR Protocol version is not an integer or out of range");
  EXPECT_EQ(Run({"HELLO", "3", "FOO"}), "ERR Syntax error in HELLO option 'FOO'");
  EXPECT_EQ(Run({"HELLO", "3", "SETNAME", "a b"}),
            "ERR Client names cannot contain spaces, newlines or special characters.");
  RunValue({"HELLO", "2", "SETNAME", "myname"});
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "\"myname\"");
  EXPECT_EQ(Run({"RESET"}), "RESET");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "(nil)");
}

TEST_F(ConnectionFamilyTest, AuthWithoutPassword) {
  EXPECT_EQ(Run({"AUTH", "x"}),
            "ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?");
  EXPECT_EQ(Run({"AUTH", "default", "anything"}), "OK");
  EXPECT_EQ(Run({"AUTH", "bob", "x"}),
            "WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(Run({"AUTH", "a", "b", "c"}), "ERR syntax error");
}

TEST_F(ConnectionFamilyTest, RequirePassGate) {
  EngineOptions options;
  options.requirepass = "secret";
  Open(options);
  EXPECT_EQ(Run({"GET", "k"}), "NOAUTH Authentication required.");
  EXPECT_EQ(Run({"FOO"}), "ERR unknown command 'FOO', with args beginning with: ");
  EXPECT_EQ(Run({"GET"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(Run({"HELLO", "3"}),
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time");
  EXPECT_EQ(Run({"CLIENT", "SETNAME", "x"}), "NOAUTH Authentication required.");
  EXPECT_EQ(Run({"PING"}), "NOAUTH Authentication required.");
  EXPECT_EQ(Run({"AUTH", "wrong"}),
            "WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(Run({"AUTH", "secret"}), "OK");
  EXPECT_EQ(Run({"GET", "k"}), "(nil)");
  EXPECT_EQ(Run({"RESET"}), "RESET");
  EXPECT_EQ(Run({"GET", "k"}), "NOAUTH Authentication required.");
  EXPECT_EQ(RunValue({"HELLO", "3", "AUTH", "default", "secret"}).type, RespValue::Type::kMap);
  EXPECT_EQ(Run({"GET", "k"}), "(nil)");
  EXPECT_EQ(Run({"HELLO", "3", "AUTH", "default", "bad"}),
            "WRONGPASS invalid username-password pair or user is disabled.");
}

TEST_F(ConnectionFamilyTest, ReadOnlyModeRefusesWrites) {
  EngineOptions options;
  options.read_only = true;
  Open(options);
  EXPECT_EQ(Run({"GET", "k"}), "(nil)");
  EXPECT_EQ(Run({"SET", "k", "v"}).substr(0, 8), "READONLY");
  EXPECT_EQ(Run({"DEL", "k"}).substr(0, 8), "READONLY");
}

TEST_F(ConnectionFamilyTest, ClientCommands) {
  const std::string id = Run({"CLIENT", "ID"});
  EXPECT_EQ(id.substr(0, 10), "(integer) ");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "(nil)");
  EXPECT_EQ(Run({"CLIENT", "SETNAME", "worker-1"}), "OK");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "\"worker-1\"");
  EXPECT_EQ(Run({"CLIENT", "SETNAME", "bad name"}),
            "ERR Client names cannot contain spaces, newlines or special characters.");
  EXPECT_EQ(Run({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "OK");
  EXPECT_EQ(Run({"CLIENT", "SETINFO", "FOO", "x"}), "ERR Unrecognized option 'FOO'");
  const std::string info = RunValue({"CLIENT", "INFO"}).str;
  EXPECT_NE(info.find("name=worker-1 "), std::string::npos) << info;
  EXPECT_NE(info.find("lib-name=redis-py"), std::string::npos) << info;
  EXPECT_NE(info.find("cmd=client|info"), std::string::npos) << info;
  auto other = runner_->NewClient();
  other->Run({"CLIENT", "SETNAME", "other"});
  const std::string list = RunValue({"CLIENT", "LIST"}).str;
  EXPECT_NE(list.find("name=other"), std::string::npos) << list;
  EXPECT_NE(list.find("name=worker-1"), std::string::npos) << list;
  const std::string other_id = std::to_string(other->conn().id());
  EXPECT_EQ(Run({"CLIENT", "KILL", "ID", other_id}), "(integer) 1");
  EXPECT_EQ(Run({"CLIENT", "KILL", "ID", "999999"}), "(integer) 0");
  EXPECT_EQ(Run({"CLIENT", "KILL", "ID", "x"}), "ERR client-id should be greater than 0");
  EXPECT_EQ(Run({"CLIENT", "KILL", "ID"}), "ERR No such client");
  EXPECT_EQ(Run({"CLIENT", "KILL", "ID", "1", "ID"}), "ERR syntax error");
  EXPECT_EQ(Run({"CLIENT", "KILL"}), "ERR wrong number of arguments for 'client|kill' command");
  EXPECT_EQ(RunValue({"CLIENT", "HELP"}).type, RespValue::Type::kArray);
}

TEST_F(ConnectionFamilyTest, ProtocolErrorClosesAfterReply) {
  bool closed = false;
  auto replies = runner_->main().Feed("*1\r\n$x\r\n", &closed);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].ToString(), "ERR Protocol error: invalid bulk length");
  EXPECT_TRUE(closed);
}

TEST_F(ConnectionFamilyTest, PipelinedAndSplitRequests) {
  auto client = runner_->NewClient();
  const std::string bytes =
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nb\r\n"
      "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n";
  std::vector<RespValue> all;
  for (char c : bytes) {
    for (auto& r : client->Feed(std::string_view(&c, 1))) all.push_back(std::move(r));
  }
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[2].ToString(), "\"b\"");
  EXPECT_EQ(all[3].ToString(), "PONG");
}

// A pipeline mixing case, empty multibulks, inline requests, unknown commands and QUIT, whole or
// split anywhere: answered in order as if read one request at a time, nothing after QUIT runs.
TEST_F(ConnectionFamilyTest, MixedPipelineInOrderAndNothingRunsAfterQuit) {
  const std::string pipeline =
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\na\r\n"
      "*2\r\n$3\r\ngEt\r\n$1\r\nk\r\n"
      "*0\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
      "get k\r\n"
      "*2\r\n$4\r\nNOPE\r\n$1\r\nx\r\n"
      "*3\r\n$4\r\nMGET\r\n$1\r\nk\r\n$7\r\nmissing\r\n"
      "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n"
      "*1\r\n$4\r\nQUIT\r\n"
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nz\r\n";
  const std::vector<std::string> expected = {
      "OK",
      "\"a\"",
      "\"a\"",
      "\"a\"",
      "ERR unknown command 'NOPE', with args beginning with: 'x' ",
      "[\"a\", (nil)]",
      "(nil)",
      "OK"};
  // Whole, and split at every byte of the first 64 and every 7th after.
  for (size_t cut = 0; cut <= pipeline.size(); cut += (cut < 64 ? 1 : 7)) {
    Open(EngineOptions{});
    auto client = runner_->NewClient();
    bool closed = false;
    std::vector<RespValue> all = client->Feed(pipeline.substr(0, cut), &closed);
    if (!closed) {
      for (auto& r : client->Feed(pipeline.substr(cut), &closed)) all.push_back(std::move(r));
    }
    ASSERT_EQ(all.size(), expected.size()) << "cut " << cut;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(all[i].ToString(), expected[i]) << "cut " << cut << " reply " << i;
    }
    EXPECT_TRUE(closed);
    EXPECT_EQ(Run({"GET", "k"}), "\"a\"") << "the SET after QUIT ran (cut " << cut << ")";
  }
}

// Pipelines longer than the session's prefetch window (Store::kMaxPrefetchKeys requests), with
// keys on file in the page cache, new keys, keyless and inline requests, split anywhere: every
// reply in order, as if the requests were read one at a time.
TEST_F(ConnectionFamilyTest, LongPipelinesAnswerInOrderAcrossPrefetchWindows) {
  storage::PageCache cache(4 << 20, 2);
  std::string pipeline;
  std::vector<std::string> expected;
  for (int i = 0; i < 60; ++i) {
    const std::string key = "key:" + std::to_string(i % 23);
    switch (i % 6) {
      case 0:
        pipeline += protocol::resp::EncodeRequest({"SET", key, "v" + std::to_string(i)});
        expected.push_back("OK");
        break;
      case 1:
        pipeline += protocol::resp::EncodeRequest({"GET", key});
        expected.push_back("");  // filled in below from a model
        break;
      case 2:
        pipeline += protocol::resp::EncodeRequest({"PING"});
        expected.push_back("PONG");
        break;
      case 3:
        pipeline += "GET " + key + "\r\n";
        expected.push_back("");
        break;
      case 4:
        pipeline += protocol::resp::EncodeRequest({"MGET", key, "missing"});
        expected.push_back("");
        break;
      default:
        pipeline += protocol::resp::EncodeRequest({"DEL", "key:" + std::to_string((i + 5) % 23)});
        expected.push_back("");
        break;
    }
  }
  // The model: run the same requests one at a time on a fresh store.
  Open(EngineOptions{}, &cache);
  for (int i = 0; i < 23; ++i) Run({"SET", "key:" + std::to_string(i), "old"});
  {
    auto client = runner_->NewClient();
    size_t i = 0;
    for (size_t pos = 0; pos < pipeline.size(); ++i) {
      // One request at a time: feed until it is answered.
      std::vector<RespValue> got;
      while (got.empty() && pos < pipeline.size()) got = client->Feed(pipeline.substr(pos++, 1));
      ASSERT_EQ(got.size(), 1u) << i;
      expected[i] = got[0].ToString();
    }
    ASSERT_EQ(i, expected.size());
  }
  for (size_t cut : {size_t{0}, size_t{1}, size_t{97}, pipeline.size() / 2, pipeline.size()}) {
    Open(EngineOptions{}, &cache);
    for (int i = 0; i < 23; ++i) Run({"SET", "key:" + std::to_string(i), "old"});
    auto client = runner_->NewClient();
    std::vector<RespValue> all = client->Feed(pipeline.substr(0, cut));
    for (auto& r : client->Feed(pipeline.substr(cut))) all.push_back(std::move(r));
    ASSERT_EQ(all.size(), expected.size()) << "cut " << cut;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(all[i].ToString(), expected[i]) << "cut " << cut << " reply " << i;
    }
  }
}

}  // namespace
}  // namespace skeg::server::testing
