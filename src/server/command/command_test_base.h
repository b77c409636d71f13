// Shared fixture of the command tests: a fresh Store in a temp directory, a fake wall clock
// shared by the Store and the Engine (so expiry is deterministic) and a CommandRunner.
// Run({...}) returns the decoded reply rendered by RespValue::ToString().
#pragma once

#include <atomic>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "server/command/test_runner.h"
#include "storage/vlog/store.h"
#include "testing/temp_dir.h"

namespace skeg::server::testing {

class CommandTest : public ::testing::Test {
 protected:
  static constexpr int64_t kStartMs = 1'700'000'000'000;

  void SetUp() override { Open(EngineOptions{}); }

  // `cache` (optional, outlives the runner): the page cache of the store and the engine.
  void Open(EngineOptions options, storage::PageCache* cache = nullptr) {
    runner_.reset();
    store_.reset();
    storage::StoreOptions so;
    so.page_cache = cache;
    options.page_cache = cache;
    so.data_dir = dir_.Sub("db");
    so.durability = storage::Durability::kRelaxed;
    so.background_compaction = false;
    so.clock = [this] { return now_.load(); };
    auto store = storage::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    options.clock = [this] { return now_.load(); };
    runner_ = std::make_unique<CommandRunner>(store_.get(), std::move(options));
  }

  std::string Run(std::initializer_list<std::string_view> args) {
    return runner_->Run(args).ToString();
  }
  RespValue RunValue(std::initializer_list<std::string_view> args) { return runner_->Run(args); }
  void Advance(int64_t ms) { now_ += ms; }

  ::skeg::testing::TempDir dir_;
  std::atomic<int64_t> now_{kStartMs};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<CommandRunner> runner_;
};

}  // namespace skeg::server::testing
