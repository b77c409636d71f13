#include "server/metrics_endpoint.h"

#include <httplib.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "storage/vlog/store.h"
#include "testing/temp_dir.h"

namespace skeg::server {
namespace {

// The value of the series line `series` ("name" or "name{labels}") in `text`, or -1.
double ValueOf(const std::string& text, const std::string& series) {
  size_t pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::strtod(text.c_str() + pos + series.size() + 2, nullptr);
}

TEST(MetricsEndpointTest, ServesRegistryOnAnEphemeralPort) {
  telemetry::Registry registry;
  registry.GetCounter("skeg_test_requests_total", "Requests.", {{"cmd", "get"}})->Inc(3);
  auto endpoint = MetricsEndpoint::Start("127.0.0.1", 0, &registry);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status().ToString();
  uint16_t port = (*endpoint)->port();
  ASSERT_NE(port, 0);
  EXPECT_EQ((*endpoint)->address(), "127.0.0.1:" + std::to_string(port));

  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res->body.find("# TYPE skeg_test_requests_total counter\n"
                           "skeg_test_requests_total{cmd=\"get\"} 3\n"),
            std::string::npos)
      << res->body;

  // Live: a later scrape sees later updates.
  registry.GetCounter("skeg_test_requests_total", "Requests.", {{"cmd", "get"}})->Inc();
  res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("skeg_test_requests_total{cmd=\"get\"} 4\n"), std::string::npos);

  res = client.Get("/other");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(MetricsEndpointTest, SecondEndpointOnTheSamePortFailsNamingTheAddress) {
  telemetry::Registry registry;
  auto first = MetricsEndpoint::Start("127.0.0.1", 0, &registry);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  uint16_t port = (*first)->port();

  auto second = MetricsEndpoint::Start("127.0.0.1", port, &registry);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsIOError()) << second.status().ToString();
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << second.status().ToString();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().ToString();

  // The first one still serves.
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(MetricsEndpointTest, UnresolvableHostFails) {
  telemetry::Registry registry;
  auto endpoint = MetricsEndpoint::Start("no-such-host.invalid", 0, &registry);
  ASSERT_FALSE(endpoint.ok());
  EXPECT_NE(endpoint.status().message().find("no-such-host.invalid:0"), std::string::npos)
      << endpoint.status().ToString();
}

TEST(MetricsEndpointTest, StopClosesTheListenerAndIsIdempotent) {
  telemetry::Registry registry;
  auto endpoint = MetricsEndpoint::Start("127.0.0.1", 0, &registry);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status().ToString();
  uint16_t port = (*endpoint)->port();
  {
    httplib::Client client("127.0.0.1", port);
    ASSERT_TRUE(client.Get("/metrics"));
  }
  (*endpoint)->Stop();
  (*endpoint)->Stop();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  EXPECT_FALSE(client.Get("/metrics"));

  // The port is free again.
  auto again = MetricsEndpoint::Start("127.0.0.1", port, &registry);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(MetricsEndpointTest, StartThenDestroyImmediately) {
  telemetry::Registry registry;
  for (int i = 0; i < 20; ++i) {
    auto endpoint = MetricsEndpoint::Start("127.0.0.1", 0, &registry);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status().ToString();
  }
}

TEST(ProcessMetricsTest, ReportsLiveRssAndOpenFds) {
  telemetry::Registry registry;
  RegisterProcessMetrics(&registry);
  std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE skeg_process_resident_memory_bytes gauge\n"), std::string::npos);
  EXPECT_GT(ValueOf(text, "skeg_process_resident_memory_bytes{kind=\"anon\"}"), 0) << text;
  EXPECT_GT(ValueOf(text, "skeg_process_resident_memory_bytes{kind=\"file\"}"), 0) << text;
  EXPECT_GE(ValueOf(text, "skeg_process_open_fds"), 3) << text;
}

TEST(StoreMetricsTest, ReportsLiveValueLogFigures) {
  skeg::testing::TempDir dir;
  storage::StoreOptions options;
  options.data_dir = dir.path();
  auto store = storage::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  telemetry::Registry registry;
  RegisterStoreMetrics(&registry, store->get());
  std::string before = registry.RenderPrometheus();
  EXPECT_NE(before.find("# TYPE skeg_vlog_commit_groups_total counter\n"), std::string::npos);
  EXPECT_NE(before.find("# TYPE skeg_vlog_sync_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(before.find("# TYPE skeg_vlog_keys gauge\n"), std::string::npos);
  EXPECT_EQ(ValueOf(before, "skeg_vlog_keys"), 0) << before;

  ASSERT_TRUE((*store)->Put("a", "1").ok());
  ASSERT_TRUE((*store)->Put("b", "2").ok());
  std::string after = registry.RenderPrometheus();
  EXPECT_EQ(ValueOf(after, "skeg_vlog_keys"), 2) << after;
  EXPECT_GE(ValueOf(after, "skeg_vlog_commit_groups_total"), 1) << after;
  EXPECT_EQ(ValueOf(after, "skeg_vlog_committed_batches_total"), 2) << after;
  EXPECT_GT(ValueOf(after, "skeg_vlog_bytes_written_total"),
            ValueOf(before, "skeg_vlog_bytes_written_total"))
      << after;
  EXPECT_GE(ValueOf(after, "skeg_vlog_segments"), 1) << after;
  EXPECT_GT(ValueOf(after, "skeg_vlog_disk_bytes"), 0) << after;
  EXPECT_GT(ValueOf(after, "skeg_vlog_live_bytes"), 0) << after;
  EXPECT_GT(ValueOf(after, "skeg_vlog_keydir_bytes"), 0) << after;
  for (const char* name :
       {"skeg_vlog_syncs_total", "skeg_vlog_sync_seconds_total", "skeg_vlog_checkpoints_total",
        "skeg_vlog_compactions_total", "skeg_vlog_compaction_reclaimed_bytes_total",
        "skeg_vlog_unsynced_acked_bytes"}) {
    EXPECT_GE(ValueOf(after, name), 0) << name << "\n" << after;
  }
}

}  // namespace
}  // namespace skeg::server
