// Crash test of the disk backend: a child process inserts, replaces and deletes vectors of a
// disk index under the kernel tier with a tiny delta bound, so background merges (graph build,
// file write, rename, catalog commit) run all the time; it reports every acknowledged write to
// the parent through a pipe. The parent SIGKILLs it at a random moment, reopens, and checks that
//   - every acknowledged vector is there with its value (or the in-flight write's),
//   - no acknowledged delete came back, and searches return only live ids,
//   - the index reopens (whatever merge step the kill interrupted).
// SKEG_DISK_CRASH_ITERATIONS sets the number of kills (default 10; the slow suite runs 100).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "index/collection/collection.h"
#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"
#include "testing/temp_dir.h"

namespace skeg::index {
namespace {

constexpr uint32_t kDim = 8;
constexpr uint64_t kIds = 2000;

std::vector<float> Vec(uint64_t id, uint64_t version) {
  std::mt19937 rng(static_cast<uint32_t>(id * 1000003u + version * 7919u + 1));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(kDim);
  for (float& x : v) x = u(rng);
  v[0] += 3.0f;  // keep every vector away from zero
  return v;
}

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

struct Opened {
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<Collection> collection;
};

Result<Opened> OpenAll(const std::string& dir, storage::PageCache* cache, bool background) {
  storage::StoreOptions so;
  so.data_dir = dir;
  so.durability = storage::Durability::kKernel;
  so.page_cache = cache;
  Opened o;
  SKEG_ASSIGN_OR_RETURN(o.store, storage::Store::Open(so));
  CollectionOptions co;
  co.store = o.store.get();
  co.index_dir = dir + "/indexes";
  co.cache = cache;
  co.delta_merge_bytes = 24 << 10;  // a merge every couple of hundred vectors
  co.background_merge = background;
  co.build_threads = 1;
  SKEG_ASSIGN_OR_RETURN(o.collection, Collection::Open(co));
  return o;
}

[[noreturn]] void ChildMain(const std::string& dir, int fd, uint64_t seed) {
  alarm(60);  // never outlive a parent that died
  storage::PageCache cache(256 << 10);
  Result<Opened> o = OpenAll(dir, &cache, /*background=*/true);
  auto fail = [&](const Status& s) {
    const std::string msg = "E " + s.ToString() + "\n";
    (void)!write(fd, msg.data(), msg.size());
    _exit(3);
  };
  if (!o.ok()) fail(o.status());
  Collection& c = *o->collection;
  if (!c.Info("v").ok()) {
    IndexSpec spec;
    spec.name = "v";
    spec.dim = kDim;
    spec.kind = VectorKind::kTq4;
    spec.backend = Backend::kDisk;
    spec.metric = Metric::kL2;
    spec.m = 12;
    spec.ef_construction = 24;
    if (Status s = c.Create(spec); !s.ok()) fail(s);
    (void)!write(fd, "C\n", 2);
  }
  std::mt19937_64 rng(seed);
  for (uint64_t n = 1;; ++n) {
    const uint64_t id = rng() % kIds;
    std::string line;
    Status s;
    if (rng() % 6 == 0) {
      line = "I D " + std::to_string(id) + "\n";
      (void)!write(fd, line.data(), line.size());
      s = c.Delete("v", id).status();
    } else {
      const uint64_t version = seed * 1000000 + n;
      line = "I P " + std::to_string(id) + " " + std::to_string(version) + "\n";
      (void)!write(fd, line.data(), line.size());
      const std::vector<float> v = Vec(id, version);
      VectorWrite w{id, v, "", std::nullopt};
      s = c.Put("v", std::span<const VectorWrite>(&w, 1));
    }
    if (!s.ok()) fail(s);
    (void)!write(fd, "A\n", 2);
  }
}

TEST(DiskCrashTest, AcknowledgedVectorsSurviveSigkillDuringMerges) {
  int iterations = 10;
  if (const char* env = std::getenv("SKEG_DISK_CRASH_ITERATIONS")) iterations = std::atoi(env);
  ::skeg::testing::TempDir dir;
  std::mt19937_64 rng(std::random_device{}());
  const uint64_t base_seed = rng() % 1000;
  std::cout << "disk crash test seed " << base_seed << ", " << iterations << " iterations\n";

  // id -> version (0: deleted / never written).
  std::map<uint64_t, uint64_t> expected;
  bool created = false;
  uint64_t acks = 0;
  uint64_t max_graph_version = 0;
  for (int iter = 0; iter < iterations; ++iter) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const uint64_t seed = base_seed + static_cast<uint64_t>(iter) + 1;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildMain(dir.path(), fds[1], seed);
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1200));
    kill(pid, SIGKILL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) {
      out.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);

    // Replay: acknowledged ops update `expected`; the last unacknowledged one may have landed.
    bool in_flight = false;
    uint64_t op_id = 0, op_version = 0;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      std::istringstream f(line);
      std::string tag;
      f >> tag;
      ASSERT_NE(tag, "E") << "child failed: " << line;
      if (tag == "C") {
        created = true;
      } else if (tag == "I") {
        std::string kind;
        f >> kind >> op_id;
        op_version = 0;
        if (kind == "P") f >> op_version;
        in_flight = true;
      } else if (tag == "A") {
        expected[op_id] = op_version;
        in_flight = false;
        ++acks;
      }
    }
    ASSERT_TRUE(out.empty() || out.back() == '\n');
    if (!created) continue;  // killed before the index existed

    storage::PageCache cache(1 << 20);
    Result<Opened> o = OpenAll(dir.path(), &cache, /*background=*/false);
    ASSERT_TRUE(o.ok()) << "iteration " << iter << ": " << o.status().ToString();
    Collection& c = *o->collection;
    Result<IndexInfo> info = c.Info("v");
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    max_graph_version = std::max(max_graph_version, info->graph_version);
    uint64_t live = 0;
    for (uint64_t id = 0; id < kIds; ++id) {
      auto it = expected.find(id);
      const uint64_t want = it == expected.end() ? 0 : it->second;
      Result<std::optional<std::string>> got = c.Get("v", id);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      const auto matches = [&](uint64_t version) {
        return version == 0 ? !got->has_value()
                            : got->has_value() && **got == Bytes(Vec(id, version));
      };
      if (matches(want)) {
        live += want != 0;
        continue;
      }
      ASSERT_TRUE(in_flight && id == op_id && matches(op_version))
          << "iteration " << iter << " id " << id << ": expected version " << want
          << (got->has_value() ? ", found another value" : ", found nothing");
      expected[id] = op_version;  // the in-flight write landed
      live += op_version != 0;
    }
    EXPECT_EQ(info->n_vectors, live) << "iteration " << iter;
    // Searches return live ids only.
    SearchOptions so;
    so.k = 50;
    SearchResult res;
    for (uint64_t q = 0; q < 5; ++q) {
      ASSERT_TRUE(c.Search("v", Vec(99999 + q, iter), so, &res).ok());
      for (const SearchHit& h : res.hits) {
        ASSERT_NE(expected[h.id], 0u) << "iteration " << iter << ": deleted id " << h.id;
      }
    }
    o->collection.reset();
    ASSERT_TRUE(o->store->Close().ok());
  }
  std::cout << "disk crash test: " << acks << " acknowledged writes over " << iterations
            << " kills; graph versions reached " << max_graph_version << "\n";
  EXPECT_GT(acks, 0u);
  EXPECT_GT(max_graph_version, 0u) << "no merge ever committed: the kills did not race merges";
}

}  // namespace
}  // namespace skeg::index
