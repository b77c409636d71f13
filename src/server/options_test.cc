#include "server/options.h"

#include <sched.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace skeg::server {
namespace {

using ::testing::HasSubstr;

// Every flag of ARCHITECTURE.md section 2 shared by both binaries.
const std::vector<std::string> kCommonFlags = {
    "data-dir",    "addr",         "durability",   "tier",           "cache-bytes",       "workers",
    "mode",        "metrics-port", "metrics-addr", "requirepass",    "auth-file",         "strict",
    "max-clients", "log-level",    "io",           "max-bulk-bytes", "build-memory-bytes"};

std::string EnvOf(const std::string& flag) {
  std::string env = "SKEG_";
  for (char c : flag) env += c == '-' ? '_' : static_cast<char>(toupper(c));
  return env;
}

class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ClearEnv(); }
  void TearDown() override { ClearEnv(); }

  static void ClearEnv() {
    for (const auto& flag : kCommonFlags) unsetenv(EnvOf(flag).c_str());
    for (const char* name : {"SKEG_RESP_ADDR", "SKEG_NATIVE_ADDR", "SKEG_CONFIG"}) unsetenv(name);
  }

  static Result<ParsedCommandLine> Parse(Binary binary, std::vector<std::string> args) {
    args.insert(args.begin(), std::string(BinaryName(binary)));
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return ParseCommandLine(binary, static_cast<int>(argv.size()), argv.data());
  }

  static ServerOptions MustParse(Binary binary, std::vector<std::string> args) {
    auto parsed = Parse(binary, std::move(args));
    EXPECT_TRUE(parsed.has_value()) << parsed.status().ToString();
    if (!parsed) return {};
    EXPECT_EQ(parsed->print_and_exit, "");
    return parsed->options;
  }

  static std::string ErrorOf(Binary binary, std::vector<std::string> args) {
    auto parsed = Parse(binary, std::move(args));
    EXPECT_FALSE(parsed.has_value());
    if (parsed) return "";
    EXPECT_TRUE(parsed.error().IsInvalidArgument());
    return std::string(parsed.error().message());
  }
};

TEST_F(OptionsTest, DefaultsOfSkeg) {
  ServerOptions o = MustParse(Binary::kSkeg, {});
  EXPECT_EQ(o.data_dir, "./data");
  EXPECT_TRUE(o.addr.enabled);
  EXPECT_FALSE(o.addr.is_explicit);
  EXPECT_EQ(o.addr.endpoint, (Endpoint{"127.0.0.1", 7379}));
  EXPECT_TRUE(o.resp_addr.enabled);
  EXPECT_FALSE(o.resp_addr.is_explicit);
  EXPECT_EQ(o.resp_addr.endpoint, (Endpoint{"127.0.0.1", 6379}));
  EXPECT_FALSE(o.native_addr.enabled);
  EXPECT_EQ(&o.native_listener(), &o.addr);
  EXPECT_EQ(&o.resp_listener(), &o.resp_addr);
  EXPECT_EQ(o.durability, storage::Durability::kKernel);
  EXPECT_EQ(o.tier, (TierSpec{TierSpec::Kind::kTq2, 0, 256}));
  EXPECT_EQ(o.cache_bytes, 32ull << 20);
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  EXPECT_EQ(o.workers, static_cast<uint32_t>(CPU_COUNT(&allowed)));
  EXPECT_EQ(o.mode, ServerMode::kReadWrite);
  EXPECT_EQ(o.metrics_port, 9379);
  EXPECT_EQ(o.metrics_addr, "127.0.0.1");
  EXPECT_EQ(o.requirepass, "");
  EXPECT_EQ(o.auth_file, "");
  EXPECT_FALSE(o.strict);
  EXPECT_EQ(o.max_clients, 10000u);
  EXPECT_EQ(o.log_level, LogLevel::kInfo);
  EXPECT_EQ(o.io, IoMode::kDirect);
  EXPECT_EQ(o.max_bulk_bytes, 512ull << 20);
  EXPECT_EQ(o.build_memory_bytes, 0u);
  EXPECT_EQ(o.compaction_nice, 5);
  EXPECT_EQ(o.config_file, "");
}

TEST_F(OptionsTest, DefaultsOfSkegResp3) {
  ServerOptions o = MustParse(Binary::kSkegResp3, {});
  EXPECT_TRUE(o.addr.enabled);
  EXPECT_EQ(o.addr.endpoint, (Endpoint{"127.0.0.1", 6379}));
  EXPECT_FALSE(o.native_addr.enabled);
  EXPECT_FALSE(o.native_addr.is_explicit);
  EXPECT_EQ(&o.resp_listener(), &o.addr);
  EXPECT_EQ(&o.native_listener(), &o.native_addr);
}

TEST_F(OptionsTest, ListenerFlagsAreBinarySpecific) {
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--native-addr", "127.0.0.1:1"}), HasSubstr("native-addr"));
  EXPECT_THAT(ErrorOf(Binary::kSkegResp3, {"--resp-addr", "127.0.0.1:1"}), HasSubstr("resp-addr"));
  ServerOptions o = MustParse(Binary::kSkegResp3, {"--native-addr", "0.0.0.0:7000"});
  EXPECT_TRUE(o.native_addr.enabled);
  EXPECT_TRUE(o.native_addr.is_explicit);
  EXPECT_EQ(o.native_addr.endpoint, (Endpoint{"0.0.0.0", 7000}));
  o = MustParse(Binary::kSkeg, {"--resp-addr", "off", "--addr", "[::1]:7001"});
  EXPECT_FALSE(o.resp_addr.enabled);
  EXPECT_TRUE(o.resp_addr.is_explicit);
  EXPECT_TRUE(o.addr.is_explicit);
  EXPECT_EQ(o.addr.endpoint, (Endpoint{"::1", 7001}));
  EXPECT_EQ(o.addr.endpoint.ToString(), "[::1]:7001");
}

TEST_F(OptionsTest, AllFlagsParse) {
  ServerOptions o = MustParse(Binary::kSkeg, {"--data-dir=/tmp/x",
                                              "--durability",
                                              "power-loss",
                                              "--tier",
                                              "pq:16:256",
                                              "--cache-bytes",
                                              "1GiB",
                                              "--workers",
                                              "3",
                                              "--mode",
                                              "serve",
                                              "--metrics-port",
                                              "0",
                                              "--metrics-addr",
                                              "0.0.0.0",
                                              "--requirepass",
                                              "s3cret",
                                              "--auth-file",
                                              "/etc/users",
                                              "--strict",
                                              "--max-clients",
                                              "7",
                                              "--log-level",
                                              "debug",
                                              "--io",
                                              "buffered",
                                              "--max-bulk-bytes",
                                              "1M",
                                              "--build-memory-bytes",
                                              "2G",
                                              "--compaction-nice",
                                              "0"});
  EXPECT_EQ(o.data_dir, "/tmp/x");
  EXPECT_EQ(o.durability, storage::Durability::kPowerLoss);
  EXPECT_EQ(o.tier, (TierSpec{TierSpec::Kind::kPq, 16, 256}));
  EXPECT_EQ(o.cache_bytes, 1ull << 30);
  EXPECT_EQ(o.workers, 3u);
  EXPECT_EQ(o.mode, ServerMode::kServe);
  EXPECT_EQ(o.metrics_port, 0);
  EXPECT_EQ(o.metrics_addr, "0.0.0.0");
  EXPECT_EQ(o.requirepass, "s3cret");
  EXPECT_EQ(o.auth_file, "/etc/users");
  EXPECT_TRUE(o.strict);
  EXPECT_EQ(o.max_clients, 7u);
  EXPECT_EQ(o.log_level, LogLevel::kDebug);
  EXPECT_EQ(o.io, IoMode::kBuffered);
  EXPECT_EQ(o.max_bulk_bytes, 1ull << 20);
  EXPECT_EQ(o.build_memory_bytes, 2ull << 30);
  EXPECT_THAT(o.Summary(), ::testing::Not(HasSubstr("s3cret")));

  storage::StoreOptions store = ToStoreOptions(o);
  EXPECT_EQ(store.data_dir, "/tmp/x");
  EXPECT_EQ(store.durability, storage::Durability::kPowerLoss);
  EXPECT_FALSE(store.create_if_missing);  // serve mode never creates a store
  EXPECT_EQ(store.compaction_nice, 0);
}

TEST_F(OptionsTest, EnvironmentOverridesDefaults) {
  setenv("SKEG_DATA_DIR", "/env/dir", 1);
  setenv("SKEG_CACHE_BYTES", "64MiB", 1);
  setenv("SKEG_DURABILITY", "relaxed", 1);
  setenv("SKEG_STRICT", "true", 1);
  setenv("SKEG_RESP_ADDR", "127.0.0.1:16379", 1);
  ServerOptions o = MustParse(Binary::kSkeg, {});
  EXPECT_EQ(o.data_dir, "/env/dir");
  EXPECT_EQ(o.cache_bytes, 64ull << 20);
  EXPECT_EQ(o.durability, storage::Durability::kRelaxed);
  EXPECT_TRUE(o.strict);
  EXPECT_TRUE(o.resp_addr.is_explicit);  // an env var is an explicit request
  EXPECT_EQ(o.resp_addr.endpoint.port, 16379);
  EXPECT_FALSE(o.addr.is_explicit);
}

TEST_F(OptionsTest, FlagBeatsEnvironment) {
  setenv("SKEG_DATA_DIR", "/env/dir", 1);
  setenv("SKEG_WORKERS", "5", 1);
  ServerOptions o = MustParse(Binary::kSkeg, {"--data-dir", "/flag/dir", "--workers=2"});
  EXPECT_EQ(o.data_dir, "/flag/dir");
  EXPECT_EQ(o.workers, 2u);
}

TEST_F(OptionsTest, BadEnvironmentValueIsAnError) {
  setenv("SKEG_CACHE_BYTES", "lots", 1);
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {}), HasSubstr("lots"));
}

TEST_F(OptionsTest, TomlConfigFile) {
  skeg::testing::TempDir dir;
  const std::string path = dir.Sub("skeg.toml");
  {
    std::ofstream f(path);
    f << "# comment\n"
         "data-dir = \"/cfg/dir\"\n"
         "cache-bytes = \"128MiB\"\n"
         "workers = 4\n"
         "strict = true\n"
         "tier = \"pq:8\"\n";
  }
  setenv("SKEG_WORKERS", "9", 1);  // the file beats the environment
  ServerOptions o = MustParse(Binary::kSkegResp3, {"--config", path, "--data-dir", "/flag"});
  EXPECT_EQ(o.data_dir, "/flag");  // the flag beats the file
  EXPECT_EQ(o.cache_bytes, 128ull << 20);
  EXPECT_EQ(o.workers, 4u);
  EXPECT_TRUE(o.strict);
  EXPECT_EQ(o.tier, (TierSpec{TierSpec::Kind::kPq, 8, 256}));
  EXPECT_EQ(o.config_file, path);

  // SKEG_CONFIG names the file when --config is absent.
  setenv("SKEG_CONFIG", path.c_str(), 1);
  o = MustParse(Binary::kSkegResp3, {});
  EXPECT_EQ(o.data_dir, "/cfg/dir");
  EXPECT_EQ(o.config_file, path);
}

TEST_F(OptionsTest, ConfigFileErrors) {
  skeg::testing::TempDir dir;
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--config", dir.Sub("missing.toml")}),
              HasSubstr("missing.toml"));
  setenv("SKEG_CONFIG", dir.Sub("gone.toml").c_str(), 1);
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {}), HasSubstr("gone.toml"));
  unsetenv("SKEG_CONFIG");

  const std::string path = dir.Sub("bad.toml");
  {
    std::ofstream f(path);
    f << "no-such-flag = 1\n";
  }
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--config", path}), HasSubstr("no-such-flag"));
  {
    std::ofstream f(path);
    f << "cache-bytes = \"12 parsecs\"\n";
  }
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--config", path}), HasSubstr("parsecs"));
}

TEST_F(OptionsTest, SizeSuffixes) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  for (const Case& c :
       {Case{"0", 0}, Case{"1234", 1234}, Case{"512KiB", 512ull << 10}, Case{"64MiB", 64ull << 20},
        Case{"1GiB", 1ull << 30}, Case{"1G", 1ull << 30}, Case{"100M", 100ull << 20},
        Case{"1k", 1024}, Case{"2T", 2ull << 40}, Case{"1GB", 1000000000ull},
        Case{"5mb", 5000000ull}, Case{"7B", 7}, Case{"3 MiB", 3ull << 20}}) {
    auto r = ParseByteSize(c.text);
    ASSERT_TRUE(r.has_value()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
  for (const char* bad :
       {"", "MiB", "-1", "1.5G", "12parsecs", "1 G B", "99999999999999999999", "20000000T"}) {
    EXPECT_FALSE(ParseByteSize(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatByteSize(32ull << 20), "32MiB");
  EXPECT_EQ(FormatByteSize(1ull << 30), "1GiB");
  EXPECT_EQ(FormatByteSize(1000), "1000");
  EXPECT_EQ(FormatByteSize(0), "0");
  EXPECT_EQ(MustParse(Binary::kSkeg, {"--cache-bytes", "100M"}).cache_bytes, 100ull << 20);
  EXPECT_EQ(MustParse(Binary::kSkeg, {"--cache-bytes=4096"}).cache_bytes, 4096u);
}

TEST_F(OptionsTest, TierSyntax) {
  EXPECT_EQ(ParseTier("int8")->kind, TierSpec::Kind::kInt8);
  EXPECT_EQ(ParseTier("tq1")->kind, TierSpec::Kind::kTq1);
  EXPECT_EQ(ParseTier("tq4")->kind, TierSpec::Kind::kTq4);
  EXPECT_EQ(*ParseTier("pq"), (TierSpec{TierSpec::Kind::kPq, 0, 256}));
  EXPECT_EQ(*ParseTier("pq:32"), (TierSpec{TierSpec::Kind::kPq, 32, 256}));
  EXPECT_EQ(*ParseTier("pq:32:16"), (TierSpec{TierSpec::Kind::kPq, 32, 16}));
  EXPECT_EQ(ParseTier("pq:32:16")->ToString(), "pq:32:16");
  EXPECT_EQ(ParseTier("pq:32")->ToString(), "pq:32");
  for (const char* bad : {"", "tq3", "f32", "pq:", "pq:0", "pq:x", "pq:8:", "pq:8:1", "pq:8:70000",
                          "pq:8:16:4", "pq8", "PQ"}) {
    EXPECT_FALSE(ParseTier(bad).has_value()) << bad;
  }
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--tier", "pq:0"}), HasSubstr("pq:0"));
}

TEST_F(OptionsTest, Endpoints) {
  EXPECT_EQ(*ParseEndpoint("10.0.0.1:80"), (Endpoint{"10.0.0.1", 80}));
  EXPECT_EQ(*ParseEndpoint(":80"), (Endpoint{"127.0.0.1", 80}));
  EXPECT_EQ(*ParseEndpoint("80"), (Endpoint{"127.0.0.1", 80}));
  EXPECT_EQ(*ParseEndpoint("localhost:0"), (Endpoint{"127.0.0.1", 0}));
  EXPECT_EQ(*ParseEndpoint("[::]:6379"), (Endpoint{"::", 6379}));
  for (const char* bad : {"", "host:", "1.2.3.4:65536", "1.2.3.4:x", "::1:80", "[::1]80",
                          "example.com:80", "1.2.3.4:-1"}) {
    EXPECT_FALSE(ParseEndpoint(bad).has_value()) << bad;
  }
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--addr", "off"}), HasSubstr("off"));
}

TEST_F(OptionsTest, UnknownFlagIsAnError) {
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--frobnicate"}), HasSubstr("--frobnicate"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"stray-positional"}), HasSubstr("stray-positional"));
}

TEST_F(OptionsTest, BadValuesAreErrors) {
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--durability", "paranoid"}), HasSubstr("paranoid"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--workers", "abc"}), HasSubstr("abc"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--workers", "0"}), HasSubstr("workers"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--metrics-port", "70000"}), HasSubstr("70000"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--mode", "write"}), HasSubstr("write"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--log-level", "loud"}), HasSubstr("loud"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--io", "mmap"}), HasSubstr("mmap"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--cache-bytes", "12parsecs"}), HasSubstr("parsecs"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--max-clients", "-5"}), HasSubstr("max-clients"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--compaction-nice", "20"}), HasSubstr("compaction-nice"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--compaction-nice", "-1"}), HasSubstr("compaction-nice"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--addr", "nowhere:1"}), HasSubstr("nowhere"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--metrics-addr", "nowhere"}), HasSubstr("nowhere"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--data-dir"}), HasSubstr("data-dir"));
  EXPECT_THAT(ErrorOf(Binary::kSkeg, {"--data-dir", ""}), HasSubstr("data-dir"));
}

TEST_F(OptionsTest, HelpListsEveryFlagWithDefaultAndEnv) {
  for (Binary binary : {Binary::kSkeg, Binary::kSkegResp3}) {
    auto parsed = Parse(binary, {"--help"});
    ASSERT_TRUE(parsed.has_value());
    const std::string& help = parsed->print_and_exit;
    std::vector<std::string> flags = kCommonFlags;
    flags.push_back(binary == Binary::kSkeg ? "resp-addr" : "native-addr");
    for (const auto& flag : flags) {
      EXPECT_THAT(help, HasSubstr("--" + flag)) << BinaryName(binary);
      EXPECT_THAT(help, HasSubstr(EnvOf(flag))) << BinaryName(binary);
    }
    EXPECT_THAT(help, HasSubstr("--config"));
    EXPECT_THAT(help, HasSubstr("--version"));
    EXPECT_THAT(help, HasSubstr("./data"));
    EXPECT_THAT(help, HasSubstr("32MiB"));
    EXPECT_THAT(help, HasSubstr("512MiB"));
    EXPECT_THAT(help, HasSubstr("10000"));
    EXPECT_THAT(help, HasSubstr("9379"));
    EXPECT_THAT(help, HasSubstr(binary == Binary::kSkeg ? "127.0.0.1:7379" : "127.0.0.1:6379"));
    // Only `skeg` has the offline builder subcommand.
    EXPECT_EQ(help.find("skeg build --help") != std::string::npos, binary == Binary::kSkeg);
  }
  auto version = Parse(Binary::kSkegResp3, {"--version"});
  ASSERT_TRUE(version.has_value());
  EXPECT_THAT(version->print_and_exit, HasSubstr("skeg-resp3 0.1.0"));
}

TEST_F(OptionsTest, DefaultWorkersFollowTheAffinityMask) {
  // Pinned to one CPU (as `taskset -c 0` would), the default is one worker, not one per CPU
  // of the machine. sched_getaffinity(0) is the calling thread's mask, so pin this thread.
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof(before), &before), 0);
  int first = -1;
  for (int c = 0; c < CPU_SETSIZE && first < 0; ++c) {
    if (CPU_ISSET(c, &before)) first = c;
  }
  ASSERT_GE(first, 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  const ServerOptions o = MustParse(Binary::kSkeg, {"--data-dir", "/d"});
  ASSERT_EQ(sched_setaffinity(0, sizeof(before), &before), 0);
  EXPECT_EQ(o.workers, 1u);
}

}  // namespace
}  // namespace skeg::server
