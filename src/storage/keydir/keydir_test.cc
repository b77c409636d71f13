#include "storage/keydir/keydir.h"

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace skeg::storage {
namespace {

RecordLocation Loc(uint32_t seg, uint32_t off) {
  return RecordLocation{seg, off, 40 + off % 7, off % 3 == 0};
}

// The model: hash -> locations (several keys may share a hash in this test by construction).
TEST(KeyDirTest, RandomOpsMatchModel) {
  KeyDir kd;
  std::multimap<uint64_t, RecordLocation> model;
  std::mt19937_64 rng(42);
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 5000; ++i) {
    // Few distinct fingerprints per shard to force collisions and long runs.
    hashes.push_back((rng() & 0xff00000000000000ull) | (rng() % 2000));
  }
  uint32_t off = 1;
  for (int step = 0; step < 60000; ++step) {
    uint64_t h = hashes[rng() % hashes.size()];
    int op = static_cast<int>(rng() % 3);
    if (op == 0 || model.count(h) == 0) {
      RecordLocation loc = Loc(1, off++);
      kd.WriterInsert(h, loc);
      model.emplace(h, loc);
    } else if (op == 1) {
      // Replace the first candidate.
      auto it = model.find(h);
      RecordLocation target = it->second;
      RecordLocation repl = Loc(2, off++);
      bool found = kd.WriterFind(h, [&](KeyDir::SlotRef ref, const RecordLocation& l) {
        if (l != target) return false;
        kd.WriterReplace(ref, repl);
        return true;
      });
      ASSERT_TRUE(found);
      it->second = repl;
    } else {
      auto it = model.find(h);
      RecordLocation target = it->second;
      bool found = kd.WriterFind(h, [&](KeyDir::SlotRef ref, const RecordLocation& l) {
        if (l != target) return false;
        kd.WriterErase(ref);
        return true;
      });
      ASSERT_TRUE(found);
      model.erase(it);
    }
    if (step % 997 == 0) {
      for (uint64_t q : hashes) {
        RecordLocation out[64];
        size_t n = kd.Candidates(q, out, 64);
        auto [b, e] = model.equal_range(q);
        std::multiset<uint32_t> want, got;
        for (auto it = b; it != e; ++it) want.insert(it->second.offset);
        // Candidates also returns other hashes with the same shard+fingerprint.
        for (size_t i = 0; i < std::min<size_t>(n, 64); ++i) got.insert(out[i].offset);
        for (uint32_t w : want) ASSERT_TRUE(got.count(w) > 0) << "missing location";
      }
    }
  }
  EXPECT_EQ(kd.size(), model.size());
  uint64_t expiring = 0;
  for (const auto& [h, l] : model) expiring += l.has_expiry;
  EXPECT_EQ(kd.expiring(), expiring);
}

TEST(KeyDirTest, ScanVisitsEveryEntryOnceAcrossResizes) {
  KeyDir kd;
  std::mt19937_64 rng(3);
  std::set<uint32_t> offsets;
  for (uint32_t i = 1; i <= 3000; ++i) {
    kd.WriterInsert(rng(), Loc(1, i));
    offsets.insert(i);
  }
  std::multiset<uint32_t> seen;
  for (uint32_t shard = 0; shard < KeyDir::kShards; ++shard) {
    uint64_t cursor = 0;
    int rounds = 0;
    while (cursor < (1ull << 32)) {
      cursor = kd.ScanShard(shard, cursor, 3,
                            [&](uint32_t, const RecordLocation& l) { seen.insert(l.offset); });
      // Growth between calls must not lose or repeat entries already passed.
      if (++rounds % 2 == 0 && shard % 16 == 0) {
        uint32_t extra = 100000 + rounds + shard * 1000;
        kd.WriterInsert((static_cast<uint64_t>(shard) << 56) | 0xffffffffull, Loc(9, extra));
        offsets.insert(extra);
      }
    }
  }
  for (uint32_t o : offsets) {
    if (o < 100000) {
      EXPECT_EQ(seen.count(o), 1u) << o;
    }
  }
}

TEST(KeyDirTest, BytesPerKeyWithinBudget) {
  KeyDir kd;
  std::mt19937_64 rng(5);
  constexpr uint32_t kKeys = 1'000'000;
  double worst = 0;
  for (uint32_t i = 1; i <= kKeys; ++i) {
    kd.WriterInsert(rng(), Loc(1, i));
    if (i >= 200'000 && i % 50'000 == 0) {
      worst = std::max(worst, static_cast<double>(kd.MemoryUsage()) / i);
    }
  }
  EXPECT_LE(worst, 32.0);
  std::cout << "keydir bytes/key worst over 200k..1M keys: " << worst << "\n";
}

TEST(KeyDirTest, ExportAndLoadRoundTrip) {
  KeyDir a;
  std::mt19937_64 rng(9);
  for (uint32_t i = 1; i <= 10000; ++i) a.WriterInsert(rng(), Loc(3, i));
  KeyDir b;
  a.WriterExport([&](uint32_t shard, const std::vector<KeyDir::Entry>& entries) {
    b.WriterLoadShard(shard, entries.data(), entries.size());
  });
  EXPECT_EQ(b.size(), a.size());
  std::multiset<uint32_t> oa, ob;
  a.WriterForEach([&](const RecordLocation& l) { oa.insert(l.offset); });
  b.WriterForEach([&](const RecordLocation& l) { ob.insert(l.offset); });
  EXPECT_EQ(oa, ob);
  // Lookups work after load.
  std::mt19937_64 rng2(9);
  for (uint32_t i = 1; i <= 10000; ++i) {
    uint64_t h = rng2();
    RecordLocation out[4];
    size_t n = b.Candidates(h, out, 4);
    ASSERT_GE(n, 1u);
  }
}

}  // namespace
}  // namespace skeg::storage
