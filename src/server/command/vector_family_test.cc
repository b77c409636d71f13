// Vector commands through the real dispatch path: reply shapes (RESP2 and RESP3), exact error
// texts, persistence across a restart, and the read-only gate.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "server/command/command_test_base.h"

namespace skeg::server::testing {
namespace {

std::string Vec(std::initializer_list<float> v) {
  std::string out(v.size() * sizeof(float), '\0');
  std::memcpy(out.data(), std::data(v), out.size());
  return out;
}

class VectorFamilyTest : public CommandTest {};

TEST_F(VectorFamilyTest, CreateForms) {
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "a", "4", "f32", "flat"}), "OK");
  EXPECT_EQ(Run({"skeg.vindex.create", "b", "8", "flat"}), "OK");  // three-argument form: tq2
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "c", "8", "disk", "METRIC", "l2"}), "OK");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "d", "16", "PQ", "FLAT", "metric", "IP", "M", "32",
                 "EF_CONSTRUCTION", "200", "ALPHA", "1.5"}),
            "OK");
  EXPECT_EQ(Run({"SKEG.VINDEX.LIST"}),
            "\"name=a dim=4 kind=f32 backend=flat metric=cosine n_vectors=0\n"
            "name=b dim=8 kind=tq2 backend=flat metric=cosine n_vectors=0\n"
            "name=c dim=8 kind=tq2 backend=disk metric=l2 n_vectors=0\n"
            "name=d dim=16 kind=pq backend=flat metric=ip n_vectors=0\n\"");
  const RespValue info = RunValue({"SKEG.VINDEX.INFO", "d"});
  ASSERT_EQ(info.type, RespValue::Type::kArray);  // RESP2: the map as a flat array
  EXPECT_EQ(info.ToString(),
            "[\"name\", \"d\", \"dim\", (integer) 16, \"kind\", \"pq\", \"backend\", \"flat\", "
            "\"metric\", \"ip\", \"n_vectors\", (integer) 0, \"deleted\", (integer) 0, "
            "\"ram_bytes\", " +
                info.elems[15].ToString() +
                ", \"disk_bytes\", (integer) 0, \"segments\", (integer) 0, \"pending\", "
                "(integer) 0, \"graph_version\", (integer) 0, \"m\", (integer) 32, "
                "\"ef_construction\", (integer) 200, "
                "\"alpha\", \"1.5\", \"trained\", (integer) 0, \"train_rows\", (integer) 10000, "
                "\"rerank_candidates_per_k\", (integer) 0, \"search\", \"exact scan\"]");
  EXPECT_EQ(RunValue({"SKEG.VINDEX.INFO", "c"}).elems[7].str, "disk");
  EXPECT_EQ(Run({"HELLO", "3"}).substr(0, 1), "{");
  EXPECT_EQ(RunValue({"SKEG.VINDEX.INFO", "a"}).type, RespValue::Type::kMap);
  EXPECT_EQ(Run({"SKEG.VINDEX.CONSOLIDATE", "a"}), "OK");
  EXPECT_EQ(Run({"SKEG.VINDEX.DROP", "a"}), "OK");
  EXPECT_EQ(Run({"SKEG.VINDEX.DROP", "a"}), "ERR unknown index 'a'");
  EXPECT_EQ(Run({"SKEG.VINDEX.CONSOLIDATE", "a"}), "ERR unknown index 'a'");
}

TEST_F(VectorFamilyTest, CreateErrors) {
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "a", "4", "f32", "flat"}), "OK");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "a", "4", "f32", "flat"}), "ERR index 'a' already exists");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "../x", "4", "flat"}),
            "ERR bad index name '../x': must not contain '..'");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "a::b", "4", "flat"}),
            "ERR bad index name 'a::b': must not contain '::'");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "..", "4", "flat"}),
            "ERR bad index name '..': '.' and '..' are reserved");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "a b", "4", "flat"}),
            "ERR bad index name 'a b': only A-Z a-z 0-9 . _ - are allowed");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "", "4", "flat"}),
            "ERR bad index name: must be 1 to 255 bytes");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "0", "flat"}),
            "ERR bad dim '0': must be an integer between 1 and 4096");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4097", "flat"}),
            "ERR bad dim '4097': must be an integer between 1 and 4096");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "abc", "flat"}),
            "ERR bad dim 'abc': must be an integer between 1 and 4096");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f16", "flat"}),
            "ERR unknown kind 'f16' (expected f32, int8, binary, tq1, tq2, tq4 or pq)");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f32", "ssd"}),
            "ERR unknown backend 'ssd' (expected flat or disk)");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f32"}), "ERR syntax error");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f32", "flat", "METRIC", "hamming"}),
            "ERR unknown metric 'hamming' (expected cosine, l2 or ip)");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f32", "flat", "METRIC"}), "ERR syntax error");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f32", "flat", "FOO", "1"}), "ERR syntax error");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f32", "flat", "M", "0"}),
            "ERR bad M '0': must be a positive integer");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4", "f32", "flat", "ALPHA", "0.5"}),
            "ERR bad ALPHA: must be between 1 and 16");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "x", "4"}),
            "ERR wrong number of arguments for 'skeg.vindex.create' command");
  EXPECT_EQ(Run({"SKEG.VINDEX.INFO", "nope"}), "ERR unknown index 'nope'");
}

TEST_F(VectorFamilyTest, SetGetDelAndMultiSet) {
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "v", "2", "f32", "flat", "METRIC", "l2"}), "OK");
  const std::string a = Vec({1, 2});
  const std::string b = Vec({3, 4});
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", a}), "OK");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "2", b, "PAYLOAD", "lang=en", "ATTR", "7"}), "OK");
  EXPECT_EQ(RunValue({"SKEG.VGET", "v", "1"}).str, a);
  EXPECT_EQ(Run({"SKEG.VGET", "v", "3"}), "(nil)");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", b}), "OK");  // replace
  EXPECT_EQ(RunValue({"SKEG.VGET", "v", "1"}).str, b);
  EXPECT_EQ(Run({"SKEG.VDEL", "v", "1"}), "(integer) 1");
  EXPECT_EQ(Run({"SKEG.VDEL", "v", "1"}), "(integer) 0");
  EXPECT_EQ(Run({"SKEG.VMSET", "v", "10", a, "x=1", "11", b, "", "12", a, "x=2"}), "(integer) 3");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "2", "0", a, "WITHPAYLOAD"}),
            "[\"10\", \"0\", \"x=1\", \"12\", \"0\", \"x=2\"]");
  EXPECT_EQ(Run({"SKEG.VMSET", "v", "10", a, "x=1", "11"}),
            "ERR wrong number of arguments for 'skeg.vmset' command");
  // One bad vector: nothing of the batch is written.
  EXPECT_EQ(Run({"SKEG.VMSET", "v", "20", a, "", "21", Vec({1, 2, 3}), ""}),
            "ERR wrong vector dimension: index 'v' has dim 2, got 3");
  EXPECT_EQ(Run({"SKEG.VGET", "v", "20"}), "(nil)");
}

TEST_F(VectorFamilyTest, SearchReplyShapes) {
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "v", "2", "f32", "flat"}), "OK");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", Vec({1, 0}), "PAYLOAD", "p=1"}), "OK");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "2", Vec({1, 1})}), "OK");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "3", Vec({0, 1}), "ATTR", "5"}), "OK");
  // Cosine similarity, descending; RESP2 sends scores as bulk strings.
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "2", "0", Vec({2, 0})}),
            "[\"1\", \"1\", \"2\", \"0.7071067690849304\"]");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "5", "100", Vec({2, 0}), "WITHPAYLOAD"}),
            "[\"1\", \"1\", \"p=1\", \"2\", \"0.7071067690849304\", (nil), \"3\", \"0\", (nil)]");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "5", "0", Vec({2, 0}), "RANGE", "0", "10"}),
            "[\"3\", \"0\"]");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "5", "0", Vec({2, 0}), "filter", "p = 1 OR p EXISTS"}),
            "[\"1\", \"1\"]");
  EXPECT_EQ(Run({"HELLO", "3"}).substr(0, 1), "{");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "1", "0", Vec({0, 3})}), "[\"3\", (double) 1]");
}

TEST_F(VectorFamilyTest, VectorAndSearchErrors) {
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "v", "2", "f32", "flat"}), "OK");
  const std::string nan = Vec({std::numeric_limits<float>::quiet_NaN(), 1});
  const std::string inf = Vec({1, -std::numeric_limits<float>::infinity()});
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", Vec({1, 2, 3})}),
            "ERR wrong vector dimension: index 'v' has dim 2, got 3");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", "abcde"}),
            "ERR vector byte length 5 is not a multiple of 4");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", nan}), "ERR vector contains NaN or Inf");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", inf}), "ERR vector contains NaN or Inf");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "-1", Vec({1, 2})}),
            "ERR id must be an unsigned 64-bit integer");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "18446744073709551616", Vec({1, 2})}),
            "ERR id must be an unsigned 64-bit integer");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "18446744073709551615", Vec({1, 2})}), "OK");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", Vec({1, 2}), "ATTR", "x"}),
            "ERR ATTR must be an unsigned 64-bit integer");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", Vec({1, 2}), "PAYLOAD"}), "ERR syntax error");
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", Vec({1, 2}), "COLOR", "red"}), "ERR syntax error");
  EXPECT_EQ(Run({"SKEG.VSET", "nope", "1", Vec({1, 2})}), "ERR unknown index 'nope'");
  EXPECT_EQ(Run({"SKEG.VGET", "nope", "1"}), "ERR unknown index 'nope'");
  EXPECT_EQ(Run({"SKEG.VDEL", "nope", "1"}), "ERR unknown index 'nope'");
  EXPECT_EQ(Run({"SKEG.VGET", "v", "x"}), "ERR id must be an unsigned 64-bit integer");
  const std::string q = Vec({1, 2});
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "0", "0", q}), "ERR k must be between 1 and 10000");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10001", "0", q}), "ERR k must be between 1 and 10000");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "ten", "0", q}), "ERR k must be between 1 and 10000");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "-1", q}),
            "ERR l_search must be an integer between 0 and 65536");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", Vec({1})}),
            "ERR wrong vector dimension: index 'v' has dim 2, got 1");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", "abc"}),
            "ERR vector byte length 3 is not a multiple of 4");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", nan}), "ERR vector contains NaN or Inf");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "nope", "10", "0", q}), "ERR unknown index 'nope'");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", q, "FILTER", "lang ="}),
            "ERR bad FILTER: expected a value after '=' but the expression ended");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", q, "FILTER", "(a = 1"}),
            "ERR bad FILTER: expected ')' but the expression ended");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", q, "FILTER"}), "ERR syntax error");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", q, "RANGE", "1"}), "ERR syntax error");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", q, "RANGE", "a", "2"}),
            "ERR RANGE bounds must be unsigned 64-bit integers");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "10", "0", q, "WITHSCORES"}), "ERR syntax error");
}

TEST_F(VectorFamilyTest, IndexesSurviveRestart) {
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "t", "4", "tq4", "flat", "METRIC", "ip"}), "OK");
  for (int i = 0; i < 50; ++i) {
    const float f = static_cast<float>(i);
    EXPECT_EQ(Run({"SKEG.VSET", "t", std::to_string(i), Vec({f, 1, -f, 2}), "PAYLOAD",
                   "n=" + std::to_string(i), "ATTR", std::to_string(i * 2)}),
              "OK");
  }
  EXPECT_EQ(Run({"SKEG.VDEL", "t", "7"}), "(integer) 1");
  const std::string q = Vec({1, 0, 0.5f, 1});
  const std::string before = Run(
      {"SKEG.VSEARCH", "t", "10", "0", q, "WITHPAYLOAD", "FILTER", "n >= 3", "RANGE", "0", "80"});
  const std::string list = Run({"SKEG.VINDEX.LIST"});
  Open(EngineOptions{});
  EXPECT_EQ(Run({"SKEG.VINDEX.LIST"}), list);
  EXPECT_EQ(Run({"SKEG.VSEARCH", "t", "10", "0", q, "WITHPAYLOAD", "FILTER", "n >= 3", "RANGE", "0",
                 "80"}),
            before);
  EXPECT_EQ(Run({"SKEG.VGET", "t", "7"}), "(nil)");
  const std::string info = RunValue({"INFO", "skeg"}).str;
  EXPECT_NE(info.find("vectors:49\r\nindexes:1\r\n"), std::string::npos) << info;
  EXPECT_EQ(RunValue({"SKEG.VGET", "t", "8"}).str, Vec({8, 1, -8, 2}));
}

TEST_F(VectorFamilyTest, ServeModeRefusesVectorWrites) {
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "v", "2", "f32", "flat"}), "OK");
  EngineOptions options;
  options.read_only = true;
  Open(options);
  EXPECT_EQ(Run({"SKEG.VSET", "v", "1", Vec({1, 2})}).substr(0, 8), "READONLY");
  EXPECT_EQ(Run({"SKEG.VINDEX.CREATE", "w", "2", "flat"}).substr(0, 8), "READONLY");
  EXPECT_EQ(Run({"SKEG.VSEARCH", "v", "1", "0", Vec({1, 2})}), "[]");
}

}  // namespace
}  // namespace skeg::server::testing
