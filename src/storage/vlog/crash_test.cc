// Crash test: a child process writes from several threads, under the relaxed and the kernel
// tier (both promise that a process crash loses no acknowledged write), and reports
// every acknowledged write to the parent through a pipe; the parent SIGKILLs it at a random
// moment, reopens the store and checks that
//   - every acknowledged write is present with its value (or superseded by a later write of
//     the same thread that may have landed before the kill),
//   - no key holds a value that was never written,
//   - batches (MSET) are all-or-nothing.
// SKEG_CRASH_ITERATIONS sets the number of kills (default 20; the slow suite runs 200).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"
#include "storage/vlog/store_test_util.h"
#include "testing/temp_dir.h"

namespace skeg::storage {
namespace {

constexpr int kThreads = 4;
constexpr int kKeysPerThread = 24;

StoreOptions CrashOptions(const std::string& dir, Durability durability) {
  StoreOptions o;
  o.data_dir = dir;
  o.durability = durability;
  o.segment_target_bytes = 256 * 1024;       // many segments and rolls
  o.checkpoint_interval_bytes = 512 * 1024;  // checkpoints happen mid-run
  o.background_compaction = true;            // compaction races the kill too
  o.compaction_check_ms = 20;
  static PageCache cache(256 * 1024);  // reads (and key checks) go through a small cache
  o.page_cache = &cache;
  return o;
}

std::string Key(int t, int k) { return "t" + std::to_string(t) + ":k" + std::to_string(k); }

// One operation of one writer thread: puts (value) or deletes (value "-") of 1..3 keys.
struct Op {
  std::vector<std::pair<std::string, std::string>> writes;
};

[[noreturn]] void ChildMain(const std::string& dir, Durability durability, int fd, uint64_t seed) {
  alarm(60);  // never outlive a parent that died
  auto store = Store::Open(CrashOptions(dir, durability));
  if (!store.ok()) {
    std::string msg = "E " + store.error().ToString() + "\n";
    (void)!write(fd, msg.data(), msg.size());
    _exit(3);
  }
  std::mutex pipe_mu;
  auto report = [&](const std::string& line) {
    std::lock_guard lock(pipe_mu);
    // Each line is one write(2) below PIPE_BUF, so lines never interleave.
    (void)!write(fd, line.data(), line.size());
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + t);
      for (uint64_t n = 0;; ++n) {
        const int count = 1 + static_cast<int>(rng() % 3);
        WriteBatch batch;
        std::string intent = "I " + std::to_string(t);
        for (int i = 0; i < count; ++i) {
          std::string key = Key(t, static_cast<int>(rng() % kKeysPerThread));
          if (rng() % 5 == 0) {
            batch.Delete(key);
            intent += " " + key + " -";
          } else {
            std::string value = std::to_string(seed) + "." + std::to_string(t) + "." +
                                std::to_string(n) + "." + std::to_string(i) +
                                std::string(rng() % 300, 'x');
            batch.Put(key, value);
            intent += " " + key + " " + value;
          }
        }
        report(intent + "\n");
        auto r = (*store)->Write(batch);
        if (!r.ok()) {
          report("E " + r.error().ToString() + "\n");
          _exit(4);
        }
        report("A " + std::to_string(t) + "\n");
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

class CrashTest : public ::testing::TestWithParam<Durability> {};

TEST_P(CrashTest, AcknowledgedWritesSurviveSigkill) {
  int iterations = 20;
  if (const char* env = std::getenv("SKEG_CRASH_ITERATIONS")) iterations = std::atoi(env);
  testing::TempDir dir;
  std::mt19937_64 rng(std::random_device{}());
  const uint64_t base_seed = rng();
  std::cout << "crash test seed " << base_seed << ", " << iterations << " iterations\n";

  // Expected state: key -> value ("-" or absent = missing).
  std::map<std::string, std::string> expected;
  uint64_t total_acks = 0;
  for (int iter = 0; iter < iterations; ++iter) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const uint64_t seed = base_seed + iter;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildMain(dir.path(), GetParam(), fds[1], seed);
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    kill(pid, SIGKILL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
      out.append(buf, static_cast<size_t>(n));
    close(fds[0]);

    // Replay the report: acked ops go into `expected`; each thread's last unacked intent is
    // the one that may or may not have landed.
    std::map<int, Op> in_flight;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;  // a partial last line never reaches here without '\n'
      std::istringstream f(line);
      std::string tag;
      int t;
      f >> tag;
      ASSERT_NE(tag, "E") << "child failed: " << line;
      f >> t;
      if (tag == "I") {
        Op op;
        std::string k, v;
        while (f >> k >> v) op.writes.emplace_back(k, v);
        in_flight[t] = op;
      } else if (tag == "A") {
        for (auto& [k, v] : in_flight[t].writes) expected[k] = v;
        in_flight.erase(t);
        ++total_acks;
      }
    }
    // Lines cut by the kill mid-write are impossible (single write below PIPE_BUF), but a
    // line without its newline would be dropped by getline's last read: guard against it.
    ASSERT_TRUE(out.empty() || out.back() == '\n');

    auto reopened = Store::Open(CrashOptions(dir.path(), GetParam()));
    ASSERT_TRUE(reopened.ok()) << "iteration " << iter << ": " << reopened.error().ToString();
    auto& store = *reopened;
    for (int t = 0; t < kThreads; ++t) {
      // The thread's keys must match the acked state, or the acked state plus its in-flight op.
      std::map<std::string, std::string> with_op = expected;
      bool has_op = in_flight.count(t) > 0;
      if (has_op) {
        for (auto& [k, v] : in_flight[t].writes) with_op[k] = v;
      }
      bool matches_acked = true, matches_op = has_op;
      for (int k = 0; k < kKeysPerThread; ++k) {
        std::string key = Key(t, k);
        std::string got = test::GetOr(*store, key);
        ASSERT_EQ(got.rfind("<error", 0), std::string::npos) << got;
        if (got == "<missing>") got = "-";
        auto want = [&](const std::map<std::string, std::string>& m) {
          auto it = m.find(key);
          return it == m.end() ? std::string("-") : it->second;
        };
        matches_acked &= got == want(expected);
        matches_op &= got == want(with_op);
      }
      ASSERT_TRUE(matches_acked || matches_op)
          << "iteration " << iter << " thread " << t << ": state is neither the acknowledged one "
          << "nor the acknowledged one plus the in-flight batch";
      if (!matches_acked) expected = with_op;
    }
    ASSERT_TRUE(store->Close().ok());
  }
  std::cout << "crash test: " << total_acks << " acknowledged writes checked over " << iterations
            << " kills\n";
  EXPECT_GT(total_acks, 0u);
}

INSTANTIATE_TEST_SUITE_P(Tiers, CrashTest,
                         ::testing::Values(Durability::kRelaxed, Durability::kKernel),
                         [](const ::testing::TestParamInfo<Durability>& p) {
                           return std::string(p.param == Durability::kRelaxed ? "Relaxed"
                                                                              : "Kernel");
                         });

}  // namespace
}  // namespace skeg::storage
