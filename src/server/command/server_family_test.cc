// Server commands: INFO, CONFIG, DBSIZE, TIME, FLUSHDB/FLUSHALL.
#include <string>

#include "server/command/command_test_base.h"
#include "storage/cache/page_buffers.h"
#include "storage/cache/page_cache.h"
#include "telemetry/metrics.h"

namespace skeg::server::testing {
namespace {

using ServerFamilyTest = CommandTest;

TEST_F(ServerFamilyTest, InfoSections) {
  EXPECT_EQ(Run({"SET", "k", "v"}), "OK");
  const std::string all = RunValue({"INFO"}).str;
  for (const char* needle :
       {"# Server\r\n", "redis_version:", "# Clients\r\n", "connected_clients:1\r\n",
        "# Memory\r\n", "used_memory:", "used_memory_rss:", "maxmemory:0\r\n", "# Persistence\r\n",
        "# Stats\r\n", "total_commands_processed:", "# Keyspace\r\n",
        "db0:keys=1,expires=0,avg_ttl=0\r\n", "# Skeg\r\n", "skeg_unsynced_acked_bytes:"}) {
    EXPECT_NE(all.find(needle), std::string::npos) << needle;
  }
  const std::string memory = RunValue({"INFO", "memory"}).str;
  EXPECT_EQ(memory.find("# Server"), std::string::npos);
  EXPECT_NE(memory.find("# Memory"), std::string::npos);
  EXPECT_EQ(RunValue({"INFO", "nosuch"}).str, "");
  EXPECT_NE(RunValue({"INFO", "KEYSPACE", "server"}).str.find("# Server"), std::string::npos);
}

// Per-command metrics: counted under the command's name, a subcommand's "parent|sub" name,
// "unknown" for unknown commands; errors (arity, unknown subcommand) counted as errors.
TEST_F(ServerFamilyTest, CommandMetricsByFullName) {
  runner_.reset();  // one Engine per store
  telemetry::Registry registry;
  EngineOptions options;
  options.clock = [this] { return now_.load(); };
  CommandRunner runner(store_.get(), std::move(options), &registry);
  runner.Run({"SET", "k", "v"});
  runner.Run({"GET", "k"});
  runner.Run({"GET", "k"});
  runner.Run({"GET"});  // arity error
  runner.Run({"CLIENT", "ID"});
  runner.Run({"CLIENT", "NOSUCH"});  // unknown subcommand: counted under "client"
  runner.Run({"NOSUCH"});
  const std::string text = registry.RenderPrometheus();
  for (const char* line :
       {"skeg_commands_total{cmd=\"set\"} 1\n", "skeg_commands_total{cmd=\"get\"} 3\n",
        "skeg_command_errors_total{cmd=\"get\"} 1\n", "skeg_commands_total{cmd=\"client|id\"} 1\n",
        "skeg_commands_total{cmd=\"client\"} 1\n", "skeg_command_errors_total{cmd=\"client\"} 1\n",
        "skeg_commands_total{cmd=\"unknown\"} 1\n",
        "skeg_command_duration_seconds_count{cmd=\"get\"} 3\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

// The value of `field` in INFO text ("field:value\r\n"), or -1.
int64_t InfoField(const std::string& info, const std::string& field) {
  const size_t at = info.find(field + ":");
  if (at == std::string::npos) return -1;
  return std::stoll(info.substr(at + field.size() + 1));
}

TEST_F(ServerFamilyTest, InfoReportsThePageCache) {
  auto cache = std::make_unique<storage::PageCache>(1 << 20);
  Open(EngineOptions{}, cache.get());
  EXPECT_EQ(Run({"SET", "k", "v"}), "OK");
  ASSERT_TRUE(store_->Sync().ok());  // on file: reads go through the cache
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run({"GET", "k"}), "\"v\"");
  const storage::PageCache::Stats cs = cache->stats();
  const std::string info = RunValue({"INFO", "skeg"}).str;
  EXPECT_EQ(InfoField(info, "cache_capacity_bytes"), 1 << 20);
  EXPECT_EQ(InfoField(info, "cache_bytes"), static_cast<int64_t>(cs.bytes));
  EXPECT_GT(InfoField(info, "cache_bytes"), 0);
  EXPECT_EQ(InfoField(info, "cache_pages"), static_cast<int64_t>(cs.pages));
  EXPECT_EQ(InfoField(info, "cache_hits"), static_cast<int64_t>(cs.hits));
  EXPECT_GE(InfoField(info, "cache_hits"), 2);
  EXPECT_EQ(InfoField(info, "cache_misses"), static_cast<int64_t>(cs.misses));
  EXPECT_EQ(InfoField(info, "cache_evictions"), 0);
  EXPECT_GE(InfoField(info, "cache_memory_bytes"), InfoField(info, "cache_bytes"));
  // The page buffers' pool (process-wide): at least the cached pages' buffers, unless each
  // buffer is its own allocation (AddressSanitizer builds report 0).
  const storage::PageBuffers::Stats pool = storage::PageBuffers::Global().stats();
  EXPECT_LE(InfoField(info, "cache_buffer_free_bytes"), InfoField(info, "cache_buffer_pool_bytes"));
  if (pool.mapped_bytes > 0) {
    EXPECT_GE(
        InfoField(info, "cache_buffer_pool_bytes") - InfoField(info, "cache_buffer_free_bytes"),
        static_cast<int64_t>(cs.pages * storage::PageCache::kPageSize));
    EXPECT_EQ(InfoField(info, "cache_buffer_pool_bytes") % storage::PageBuffers::kChunkBytes, 0);
  }
  runner_.reset();  // before the cache goes
  store_.reset();
}

TEST_F(ServerFamilyTest, InfoKeyspaceCountsKeysWithExpiry) {
  EXPECT_EQ(Run({"SET", "plain", "v"}), "OK");
  EXPECT_EQ(Run({"SET", "temp", "v", "EX", "100"}), "OK");
  EXPECT_EQ(Run({"SETEX", "temp2", "100", "v"}), "OK");
  EXPECT_NE(RunValue({"INFO", "keyspace"}).str.find("db0:keys=3,expires=2,"), std::string::npos);
  EXPECT_EQ(Run({"PERSIST", "temp"}), "(integer) 1");
  EXPECT_EQ(Run({"DEL", "temp2"}), "(integer) 1");
  EXPECT_NE(RunValue({"INFO", "keyspace"}).str.find("db0:keys=2,expires=0,"), std::string::npos);
}

TEST_F(ServerFamilyTest, ConfigGetSetResetStat) {
  EXPECT_EQ(Run({"CONFIG", "GET", "maxmemory"}), "[\"maxmemory\", \"0\"]");
  EXPECT_EQ(Run({"CONFIG", "GET", "save"}), "[\"save\", \"\"]");
  EXPECT_EQ(Run({"CONFIG", "GET", "appendonly"}), "[\"appendonly\", \"no\"]");
  EXPECT_EQ(Run({"CONFIG", "GET", "databases"}), "[\"databases\", \"1\"]");
  EXPECT_EQ(Run({"CONFIG", "GET", "nosuch"}), "[]");
  EXPECT_EQ(RunValue({"CONFIG", "GET", "max*"}).elems.size(), 6u);  // 3 params
  EXPECT_EQ(RunValue({"CONFIG", "GET", "save", "databases"}).elems.size(), 4u);
  RunValue({"HELLO", "3"});
  EXPECT_EQ(Run({"CONFIG", "GET", "maxmemory"}), "{\"maxmemory\": \"0\"}");
  EXPECT_EQ(Run({"CONFIG", "GET"}), "ERR wrong number of arguments for 'config|get' command");
  EXPECT_EQ(Run({"CONFIG", "SET", "foo", "bar"}),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
  EXPECT_EQ(Run({"CONFIG", "SET", "save", ""}), "OK");
  EXPECT_EQ(Run({"CONFIG", "SET", "maxmemory", "5"}).substr(0, 18), "ERR CONFIG SET fai");
  EXPECT_EQ(Run({"CONFIG", "SET", "save"}),
            "ERR wrong number of arguments for 'config|set' command");
  EXPECT_EQ(Run({"CONFIG", "RESETSTAT"}), "OK");
}

TEST_F(ServerFamilyTest, DbSizeTimeFlush) {
  EXPECT_EQ(Run({"DBSIZE"}), "(integer) 0");
  EXPECT_EQ(Run({"MSET", "a", "1", "b", "2"}), "OK");
  EXPECT_EQ(Run({"DBSIZE"}), "(integer) 2");
  RespValue time = RunValue({"TIME"});
  ASSERT_EQ(time.elems.size(), 2u);
  EXPECT_GT(std::stoll(time.elems[0].str), 1'600'000'000);
  EXPECT_EQ(Run({"FLUSHDB", "FOO"}), "ERR syntax error");
  EXPECT_EQ(Run({"FLUSHDB", "ASYNC", "x"}), "ERR syntax error");
  EXPECT_EQ(Run({"FLUSHDB", "SYNC"}), "OK");
  EXPECT_EQ(Run({"DBSIZE"}), "(integer) 0");
  EXPECT_EQ(Run({"SET", "c", "3"}), "OK");
  EXPECT_EQ(Run({"FLUSHALL"}), "OK");
  EXPECT_EQ(Run({"DBSIZE"}), "(integer) 0");
}

}  // namespace
}  // namespace skeg::server::testing
