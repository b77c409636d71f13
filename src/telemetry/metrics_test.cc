#include "telemetry/metrics.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace skeg::telemetry {
namespace {

TEST(RegistryTest, RendersCounterWithLabels) {
  Registry r;
  r.GetCounter("skeg_commands_total", "Commands executed.", {{"cmd", "get"}})->Inc(3);
  r.GetCounter("skeg_commands_total", "Commands executed.", {{"cmd", "set"}})->Inc();
  r.GetCounter("skeg_connections_total", "Connections accepted.")->Inc(7);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP skeg_commands_total Commands executed.\n"
            "# TYPE skeg_commands_total counter\n"
            "skeg_commands_total{cmd=\"get\"} 3\n"
            "skeg_commands_total{cmd=\"set\"} 1\n"
            "# HELP skeg_connections_total Connections accepted.\n"
            "# TYPE skeg_connections_total counter\n"
            "skeg_connections_total 7\n");
}

TEST(RegistryTest, SameNameAndLabelsReturnSameCounterWhateverTheLabelOrder) {
  Registry r;
  Counter* a = r.GetCounter("c", "h", {{"x", "1"}, {"a", "2"}});
  Counter* b = r.GetCounter("c", "h", {{"a", "2"}, {"x", "1"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, r.GetCounter("c", "h", {{"a", "2"}, {"x", "3"}}));
  a->Inc(2);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP c h\n# TYPE c counter\n"
            "c{a=\"2\",x=\"1\"} 2\n"
            "c{a=\"2\",x=\"3\"} 0\n");
}

TEST(RegistryTest, RendersGaugeAndCounterCallbacks) {
  Registry r;
  r.AddGauge("skeg_keys", "Live keys.", {{"shard", "0"}}, [] { return 42.0; });
  r.AddGauge("skeg_ratio", "A fraction.", {}, [] { return 0.1; });
  r.AddCounterCallback("skeg_sync_seconds_total", "Time in fsync.", {}, [] { return 1.5e-7; });
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP skeg_keys Live keys.\n"
            "# TYPE skeg_keys gauge\n"
            "skeg_keys{shard=\"0\"} 42\n"
            "# HELP skeg_ratio A fraction.\n"
            "# TYPE skeg_ratio gauge\n"
            "skeg_ratio 0.1\n"
            "# HELP skeg_sync_seconds_total Time in fsync.\n"
            "# TYPE skeg_sync_seconds_total counter\n"
            "skeg_sync_seconds_total 1.5e-07\n");
}

TEST(RegistryTest, RendersHistogramCumulativeWithSumAndCount) {
  Registry r;
  Histogram* h =
      r.GetHistogram("skeg_latency_seconds", "Latency.", {{"cmd", "get"}}, {0.001, 0.01, 0.1});
  h->Observe(0.0005);
  h->Observe(0.001);  // on the bound: counts in le="0.001"
  h->Observe(0.05);
  h->Observe(3);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP skeg_latency_seconds Latency.\n"
            "# TYPE skeg_latency_seconds histogram\n"
            "skeg_latency_seconds_bucket{cmd=\"get\",le=\"0.001\"} 2\n"
            "skeg_latency_seconds_bucket{cmd=\"get\",le=\"0.01\"} 2\n"
            "skeg_latency_seconds_bucket{cmd=\"get\",le=\"0.1\"} 3\n"
            "skeg_latency_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 4\n"
            "skeg_latency_seconds_sum{cmd=\"get\"} 3.0515\n"
            "skeg_latency_seconds_count{cmd=\"get\"} 4\n");
}

TEST(RegistryTest, RendersUnlabelledHistogram) {
  Registry r;
  r.GetHistogram("h", "x", {}, {1})->Observe(2);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP h x\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum 2\n"
            "h_count 1\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry r;
  r.GetCounter("c", "back\\slash and\nnewline \"quoted\"", {{"v", "a\\b\"c\nd"}})->Inc();
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP c back\\\\slash and\\nnewline \"quoted\"\n"
            "# TYPE c counter\n"
            "c{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

// Shortest round-trip digits, laid out as the Prometheus Go client does.
TEST(RegistryTest, PrintsSpecialAndRoundTripDoubles) {
  Registry r;
  r.AddGauge("g", "h", {{"k", "a"}}, [] { return std::numeric_limits<double>::infinity(); });
  r.AddGauge("g", "h", {{"k", "b"}}, [] { return -std::numeric_limits<double>::infinity(); });
  r.AddGauge("g", "h", {{"k", "c"}}, [] { return std::numeric_limits<double>::quiet_NaN(); });
  r.AddGauge("g", "h", {{"k", "d"}}, [] { return 1.0 / 3; });
  r.AddGauge("g", "h", {{"k", "e"}}, [] { return 1e21; });
  r.AddGauge("g", "h", {{"k", "f"}}, [] { return -0.25; });
  r.AddGauge("g", "h", {{"k", "g"}}, [] { return 1234567.0; });
  r.AddGauge("g", "h", {{"k", "h"}}, [] { return 123456.0; });
  r.AddGauge("g", "h", {{"k", "i"}}, [] { return 0.0001; });
  r.AddGauge("g", "h", {{"k", "j"}}, [] { return 0.0; });
  r.AddGauge("g", "h", {{"k", "k"}}, [] { return 5e-324; });
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP g h\n# TYPE g gauge\n"
            "g{k=\"a\"} +Inf\n"
            "g{k=\"b\"} -Inf\n"
            "g{k=\"c\"} NaN\n"
            "g{k=\"d\"} 0.3333333333333333\n"
            "g{k=\"e\"} 1e+21\n"
            "g{k=\"f\"} -0.25\n"
            "g{k=\"g\"} 1.234567e+06\n"
            "g{k=\"h\"} 123456\n"
            "g{k=\"i\"} 0.0001\n"
            "g{k=\"j\"} 0\n"
            "g{k=\"k\"} 5e-324\n");
}

TEST(RegistryTest, GaugeCallbacksAreEvaluatedAtRenderTime) {
  Registry r;
  std::atomic<int> value{1};
  int calls = 0;
  r.AddGauge("g", "h", {}, [&] {
    ++calls;
    return static_cast<double>(value.load());
  });
  EXPECT_EQ(calls, 0);
  EXPECT_NE(r.RenderPrometheus().find("\ng 1\n"), std::string::npos);
  value = 5;
  EXPECT_NE(r.RenderPrometheus().find("\ng 5\n"), std::string::npos);
  EXPECT_EQ(calls, 2);
}

TEST(RegistryTest, CallbackMayUseTheRegistry) {
  // Callbacks run without the registry mutex, so one that registers or renders (or takes a
  // lock that a registering thread holds) cannot deadlock.
  Registry r;
  r.AddGauge("g", "h", {}, [&] {
    r.GetCounter("from_callback", "h")->Inc();
    return 1.0;
  });
  std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("\ng 1\n"), std::string::npos);
  EXPECT_NE(r.RenderPrometheus().find("from_callback 1\n"), std::string::npos);
}

TEST(RegistryTest, ConcurrentIncFromEightThreadsSumsExactly) {
  Registry r;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&r, t] {
      // Half the threads look the counter up themselves, racing the registration.
      Counter* c = r.GetCounter("c", "h");
      Histogram* h = r.GetHistogram("lat", "h", {{"t", t % 2 ? "odd" : "even"}}, {0.5});
      for (int i = 0; i < kPerThread; ++i) {
        c->Inc();
        h->Observe(i % 2 ? 1.0 : 0.25);
      }
    });
  }
  // Scrape concurrently with the writers (TSan/ASan coverage of the lock-free paths).
  for (int i = 0; i < 20; ++i) {
    std::string text = r.RenderPrometheus();
    EXPECT_TRUE(text.empty() || text.back() == '\n');
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(r.GetCounter("c", "h")->value(), uint64_t{kThreads} * kPerThread);
  Histogram* even = r.GetHistogram("lat", "h", {{"t", "even"}}, {0.5});
  EXPECT_EQ(even->count(), uint64_t{kThreads / 2} * kPerThread);
  EXPECT_EQ(even->BucketCounts(),
            (std::vector<uint64_t>{kThreads / 2 * kPerThread / 2, kThreads / 2 * kPerThread / 2}));
  EXPECT_DOUBLE_EQ(even->sum(), kThreads / 2 * (kPerThread / 2) * 1.25);
}

TEST(HistogramTest, BucketPlacementAtBoundaries) {
  Histogram h({1, 2, 5});
  h.Observe(-3);                                        // below everything: first bucket
  h.Observe(0);                                         // first bucket
  h.Observe(1);                                         // exactly on 1: le="1"
  h.Observe(std::nextafter(1.0, 2.0));                  // just above 1: le="2"
  h.Observe(2);                                         // le="2"
  h.Observe(5);                                         // le="5"
  h.Observe(std::nextafter(5.0, 6.0));                  // +Inf
  h.Observe(std::numeric_limits<double>::max());        // +Inf
  h.Observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  EXPECT_EQ(h.BucketCounts(), (std::vector<uint64_t>{3, 2, 1, 2}));
  EXPECT_EQ(h.count(), 8u);
}

TEST(HistogramTest, SumIsExactAtMicroResolution) {
  Histogram h({1});
  for (int i = 0; i < 1000; ++i) h.Observe(0.000001);
  EXPECT_DOUBLE_EQ(h.sum(), 0.001);
  h.Observe(-0.002);
  EXPECT_DOUBLE_EQ(h.sum(), -0.001);
}

TEST(RegistryTest, LatencyBucketBoundsPrintLikeTheGoClient) {
  Registry r;
  r.GetHistogram("h", "x");
  std::string text = r.RenderPrometheus();
  for (const char* le : {"1e-05",  "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001",
                         "0.0025", "0.005",   "0.01",  "0.025",  "0.05",    "0.1",    "0.25",
                         "0.5",    "1",       "2.5",   "5",      "10",      "+Inf"}) {
    EXPECT_NE(text.find("h_bucket{le=\"" + std::string(le) + "\"} 0\n"), std::string::npos)
        << le << "\n"
        << text;
  }
}

TEST(HistogramTest, LatencyBucketsAscendFrom10usTo10s) {
  std::vector<double> b = LatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 1e-5);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

using RegistryDeathTest = ::testing::Test;

TEST_F(RegistryDeathTest, ConflictingRegistrationsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Registry r;
        r.GetCounter("m", "help");
        r.AddGauge("m", "help", {}, [] { return 0.0; });
      },
      "\"m\": registered as counter, now as gauge");
  EXPECT_DEATH(
      {
        Registry r;
        r.GetCounter("m", "help");
        r.GetCounter("m", "other help");
      },
      "\"m\": registered with help");
  EXPECT_DEATH(
      {
        Registry r;
        r.GetHistogram("m", "h", {}, {1, 2});
        r.GetHistogram("m", "h", {{"a", "b"}}, {1, 3});
      },
      "different histogram bounds");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddGauge("m", "h", {}, [] { return 0.0; });
        r.AddGauge("m", "h", {}, [] { return 0.0; });
      },
      "registered twice");
  EXPECT_DEATH(
      {
        Registry r;
        r.GetCounter("bad-name", "h");
      },
      "invalid metric name");
  EXPECT_DEATH(
      {
        Registry r;
        r.GetCounter("m", "h", {{"a", "1"}, {"a", "2"}});
      },
      "given twice");
  EXPECT_DEATH(
      {
        Registry r;
        r.GetHistogram("m", "h", {{"le", "1"}});
      },
      "\"le\"");
}

// Keeps the compiler from eliding the allocation and the stores into it.
void Escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

TEST(ProcessTest, ReadRssSeesAnonymousMemoryGrow) {
  RssBytes before = ReadRss();
  EXPECT_GT(before.anon, 0u);
  EXPECT_GT(before.file, 0u);  // at least the executable's text

  constexpr size_t kBytes = 64u << 20;
  char* p = static_cast<char*>(std::malloc(kBytes));
  ASSERT_NE(p, nullptr);
  Escape(p);
  std::memset(p, 0x5a, kBytes);
  Escape(p);
  RssBytes after = ReadRss();
  std::free(p);
  // Allow for the allocator having had some of it resident already.
  EXPECT_GE(after.anon, before.anon + (48u << 20));
}

TEST(ProcessTest, CountOpenFdsSeesANewDescriptor) {
  uint64_t before = CountOpenFds();
  EXPECT_GE(before, 3u);  // stdin, stdout, stderr
  std::FILE* f = std::fopen("/proc/self/status", "re");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(CountOpenFds(), before + 1);
  std::fclose(f);
  EXPECT_EQ(CountOpenFds(), before);
}

}  // namespace
}  // namespace skeg::telemetry
