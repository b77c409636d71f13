// Helpers shared by the value-log tests.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"

namespace skeg::storage::test {

// A small page cache shared by the tests' stores, so every read path goes through it and it
// evicts often (128 KiB = 30 pages).
inline PageCache* TestPageCache() {
  static PageCache cache(128 * 1024, 2);
  return &cache;
}

// Options for tests: small segments, no compaction thread, the shared small page cache, a
// clock the test controls.
inline StoreOptions TestOptions(const std::string& dir, std::atomic<int64_t>* clock = nullptr) {
  StoreOptions o;
  o.data_dir = dir;
  o.segment_target_bytes = 64 * 1024;
  o.background_compaction = false;
  o.checkpoint_interval_bytes = 0;
  o.page_cache = TestPageCache();
  if (clock) o.clock = [clock] { return clock->load(); };
  return o;
}

inline std::unique_ptr<Store> OpenOrDie(const StoreOptions& o) {
  auto s = Store::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Puts `key` with a durability ticket (Write returns once applied) and returns the ticket,
// 0 on error (reported as a test failure).
inline uint64_t PutDeferred(Store& store, std::string_view key, std::string_view value) {
  uint64_t ticket = 0;
  WriteOptions wo;
  wo.durability_ticket = &ticket;
  WriteBatch b;
  b.Put(key, value);
  const auto r = store.Write(b, wo);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? ticket : 0;
}

// The value of `key`, or "<missing>" / "<error: ...>".
inline std::string GetOr(const Store& store, std::string_view key) {
  auto r = store.Get(key);
  if (r.ok()) return r->value;
  if (r.error().IsNotFound()) return "<missing>";
  return "<error: " + r.error().ToString() + ">";
}

}  // namespace skeg::storage::test
