#include "server/command/key_locks.h"

#include <atomic>
#include <chrono>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace skeg::server {
namespace {

using std::chrono::milliseconds;

// Starts a thread that takes `keys`' stripes and reports when it has them.
struct Contender {
  Contender(KeyLocks& locks, std::vector<std::string_view> keys)
      : thread([this, &locks, keys] {
          KeyLocks::Guard g = locks.Lock(keys);
          entered = true;
        }) {}
  ~Contender() { thread.join(); }
  // Whether it got the stripes within `wait`.
  bool EnteredWithin(milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!entered && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    return entered;
  }
  std::atomic<bool> entered{false};
  std::thread thread;
};

TEST(KeyLocksTest, AGuardHoldsItsStripesUntilDestroyedAndAMoveKeepsThem) {
  KeyLocks locks;
  {
    // A single-key guard (no allocation) excludes the key, from multi-key locks too, and keeps
    // it when moved; the stripe is released once, by the guard holding it last.
    KeyLocks::Guard one = locks.Lock(std::string_view("a"));
    KeyLocks::Guard moved = std::move(one);
    Contender other(locks, {"b", "a"});
    EXPECT_FALSE(other.EnteredWithin(milliseconds(30)));
    { KeyLocks::Guard last = std::move(moved); }
    EXPECT_TRUE(other.EnteredWithin(milliseconds(5000)));
  }
  {
    // A multi-key guard, duplicates included, holds each of its stripes.
    KeyLocks::Guard many = locks.Lock(std::vector<std::string_view>{"a", "b", "a", "c"});
    Contender other(locks, {"c"});
    EXPECT_FALSE(other.EnteredWithin(milliseconds(30)));
    { KeyLocks::Guard last = std::move(many); }
    EXPECT_TRUE(other.EnteredWithin(milliseconds(5000)));
  }
  // Everything was released.
  Contender free_again(locks, {"a", "b", "c"});
  EXPECT_TRUE(free_again.EnteredWithin(milliseconds(5000)));
}

}  // namespace
}  // namespace skeg::server
