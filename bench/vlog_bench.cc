// vlog_bench: value-log macro benchmark (issue 2).
//
//   group commit  ops/s of N concurrent writers (1, 8, 64) at each durability tier, 100-byte
//                 values, one Put per operation, each acknowledged only once durable;
//   restart       Open() time of a store holding --restart-keys keys (checkpoint + tail);
//   keydir        key-directory bytes per key at that size, against the 32-byte budget.
//
// Prints a Markdown table and writes JSON to --json. Run on the disk you want to measure:
//   build/release/bench/vlog_bench --dir /var/tmp/skeg-bench --json bench/results/vlog.json
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "storage/vlog/store.h"

namespace {

using skeg::storage::Durability;
using skeg::storage::Store;
using skeg::storage::StoreOptions;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

[[noreturn]] void Die(const skeg::Status& s) {
  std::fprintf(stderr, "vlog_bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

struct GroupCommitResult {
  std::string tier;
  int writers;
  uint64_t ops;
  double seconds;
  double ops_per_sec;
  double batches_per_group;
  double batches_per_sync;
  double sync_ms_avg;
};

GroupCommitResult RunGroupCommit(const std::string& dir, Durability tier, int writers,
                                 double seconds, size_t value_bytes) {
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.data_dir = dir;
  o.durability = tier;
  o.background_compaction = false;
  auto store = Store::Open(o);
  if (!store.ok()) Die(store.error());
  const std::string value(value_bytes, 'v');
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      uint64_t n = 0;
      std::string key;
      while (!stop.load(std::memory_order_relaxed)) {
        key = "w" + std::to_string(w) + ":" + std::to_string(n++ % 100000);
        skeg::Status s = (*store)->Put(key, value);
        if (!s.ok()) Die(s);
        ops.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = Seconds(start, Clock::now());
  auto stats = (*store)->stats();
  GroupCommitResult r;
  r.tier = std::string(skeg::storage::DurabilityName(tier));
  r.writers = writers;
  r.ops = ops.load();
  r.seconds = elapsed;
  r.ops_per_sec = static_cast<double>(r.ops) / elapsed;
  r.batches_per_group = stats.commit_groups ? static_cast<double>(stats.committed_batches) /
                                                  static_cast<double>(stats.commit_groups)
                                            : 0;
  r.batches_per_sync =
      stats.syncs ? static_cast<double>(stats.committed_batches) / static_cast<double>(stats.syncs)
                  : 0;
  r.sync_ms_avg =
      stats.syncs ? static_cast<double>(stats.sync_nanos) / 1e6 / static_cast<double>(stats.syncs)
                  : 0;
  (void)(*store)->Close();
  return r;
}

struct RestartResult {
  uint64_t keys;
  uint64_t tail_keys;
  double load_seconds;
  double restart_seconds;
  double full_replay_seconds;  // the same directory without its checkpoint
  bool used_checkpoint;
  uint64_t replayed_records;
  double keydir_bytes_per_key;
  double store_bytes_per_key;
};

RestartResult RunRestart(const std::string& dir, uint64_t keys, uint64_t tail_keys,
                         size_t value_bytes) {
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.data_dir = dir;
  o.durability = Durability::kRelaxed;  // loading speed is not what is measured here
  o.background_compaction = false;
  o.checkpoint_interval_bytes = 0;
  const std::string value(value_bytes, 'v');
  RestartResult r{};
  r.keys = keys;
  r.tail_keys = tail_keys;
  {
    auto store = Store::Open(o);
    if (!store.ok()) Die(store.error());
    const auto start = Clock::now();
    skeg::storage::WriteBatch batch;
    auto put_range = [&](uint64_t from, uint64_t to) {
      for (uint64_t i = from; i < to; ++i) {
        batch.Put("key:" + std::to_string(i), value);
        if (batch.count() == 1000 || i + 1 == to) {
          auto w = (*store)->Write(batch);
          if (!w.ok()) Die(w.error());
          batch.Clear();
        }
      }
    };
    put_range(0, keys - tail_keys);
    if (auto s = (*store)->Checkpoint(); !s.ok()) Die(s);
    put_range(keys - tail_keys, keys);  // the tail replayed at restart
    r.load_seconds = Seconds(start, Clock::now());
    if (auto s = (*store)->Sync(); !s.ok()) Die(s);
    // Simulate a crash after the checkpoint: copy the directory while the store is open, so
    // the restart must replay the tail.
    std::filesystem::copy(dir, dir + ".crash", std::filesystem::copy_options::recursive);
  }
  std::filesystem::remove(dir + ".crash/LOCK");
  StoreOptions ro = o;
  ro.data_dir = dir + ".crash";
  const auto start = Clock::now();
  auto store = Store::Open(ro);
  if (!store.ok()) Die(store.error());
  r.restart_seconds = Seconds(start, Clock::now());
  r.used_checkpoint = (*store)->recovery_info().used_checkpoint;
  r.replayed_records = (*store)->recovery_info().replayed_records;
  auto stats = (*store)->stats();
  r.keydir_bytes_per_key =
      static_cast<double>(stats.keydir_bytes) / static_cast<double>(stats.keys);
  r.store_bytes_per_key =
      static_cast<double>((*store)->MemoryUsage()) / static_cast<double>(stats.keys);
  if (stats.keys != keys) {
    std::fprintf(stderr, "vlog_bench: restart found %llu keys, expected %llu\n",
                 static_cast<unsigned long long>(stats.keys),
                 static_cast<unsigned long long>(keys));
    std::exit(1);
  }
  store->reset();
  std::filesystem::remove(dir + ".crash/vlog/keydir.snap");
  const auto full_start = Clock::now();
  auto full = Store::Open(ro);
  if (!full.ok()) Die(full.error());
  r.full_replay_seconds = Seconds(full_start, Clock::now());
  full->reset();
  std::filesystem::remove_all(dir + ".crash");
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skeg value-log benchmark: group commit, restart, key-directory bytes"};
  std::string dir = "/var/tmp/skeg-vlog-bench";
  std::string json_path;
  std::vector<std::string> tiers = {"relaxed", "kernel", "power-loss"};
  std::vector<int> writers = {1, 8, 64};
  double seconds = 5;
  size_t value_bytes = 100;
  uint64_t restart_keys = 1'000'000;
  uint64_t tail_keys = 100'000;
  bool skip_restart = false;
  app.add_option("--dir", dir, "scratch directory (removed afterwards)")->capture_default_str();
  app.add_option("--json", json_path, "write results as JSON here");
  app.add_option("--tiers", tiers, "durability tiers")->capture_default_str();
  app.add_option("--writers", writers, "concurrent writer counts")->capture_default_str();
  app.add_option("--seconds", seconds, "duration of each group-commit run")->capture_default_str();
  app.add_option("--value-bytes", value_bytes, "value size")->capture_default_str();
  app.add_option("--restart-keys", restart_keys, "keys in the restart test")->capture_default_str();
  app.add_option("--tail-keys", tail_keys, "keys written after the checkpoint")
      ->capture_default_str();
  app.add_flag("--skip-restart", skip_restart, "only run the group-commit part");
  CLI11_PARSE(app, argc, argv);

  nlohmann::json out;
  out["value_bytes"] = value_bytes;
  out["cores"] = std::thread::hardware_concurrency();
  std::printf("## Group commit (%zu-byte values, %.0f s per run)\n\n", value_bytes, seconds);
  std::printf(
      "| tier | writers | ops/s | writes per pwritev | writes per sync | avg sync ms |\n"
      "|---|---:|---:|---:|---:|---:|\n");
  for (const auto& t : tiers) {
    auto tier = skeg::storage::ParseDurability(t);
    if (!tier.ok()) Die(tier.error());
    for (int w : writers) {
      auto r = RunGroupCommit(dir, *tier, w, seconds, value_bytes);
      std::printf("| %s | %d | %.0f | %.1f | %.1f | %.2f |\n", r.tier.c_str(), r.writers,
                  r.ops_per_sec, r.batches_per_group, r.batches_per_sync, r.sync_ms_avg);
      std::fflush(stdout);
      out["group_commit"].push_back({{"tier", r.tier},
                                     {"writers", r.writers},
                                     {"ops", r.ops},
                                     {"seconds", r.seconds},
                                     {"ops_per_sec", r.ops_per_sec},
                                     {"writes_per_group", r.batches_per_group},
                                     {"writes_per_sync", r.batches_per_sync},
                                     {"avg_sync_ms", r.sync_ms_avg}});
    }
  }
  if (!skip_restart) {
    auto r = RunRestart(dir, restart_keys, tail_keys, value_bytes);
    std::printf(
        "\n## Restart\n\n| keys | tail keys after checkpoint | tail records replayed | "
        "restart s | checkpoint used | full replay s (no checkpoint) | keydir bytes/key | "
        "store RAM bytes/key |\n|---:|---:|---:|---:|---|---:|---:|---:|\n");
    std::printf("| %llu | %llu | %llu | %.3f | %s | %.3f | %.1f | %.1f |\n",
                static_cast<unsigned long long>(r.keys),
                static_cast<unsigned long long>(r.tail_keys),
                static_cast<unsigned long long>(r.replayed_records), r.restart_seconds,
                r.used_checkpoint ? "yes" : "no", r.full_replay_seconds, r.keydir_bytes_per_key,
                r.store_bytes_per_key);
    out["restart"] = {{"keys", r.keys},
                      {"tail_keys", r.tail_keys},
                      {"replayed_records", r.replayed_records},
                      {"restart_seconds", r.restart_seconds},
                      {"used_checkpoint", r.used_checkpoint},
                      {"full_replay_seconds", r.full_replay_seconds},
                      {"keydir_bytes_per_key", r.keydir_bytes_per_key},
                      {"store_bytes_per_key", r.store_bytes_per_key},
                      {"load_seconds", r.load_seconds}};
  }
  if (!json_path.empty()) {
    std::ofstream(json_path) << out.dump(2) << "\n";
  }
  return 0;
}
