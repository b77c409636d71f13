#include "server/command/key_locks.h"

#include <algorithm>
#include <functional>

namespace skeg::server {

size_t KeyLocks::StripeOf(std::string_view key) {
  return std::hash<std::string_view>{}(key) % kStripes;
}

KeyLocks::Guard KeyLocks::Lock(std::string_view key) {
  Guard guard;
  std::mutex* mu = &stripes_[StripeOf(key)];
  mu->lock();
  guard.one_ = mu;
  return guard;
}

KeyLocks::Guard KeyLocks::Lock(std::span<const std::string_view> keys) {
  std::vector<size_t> indexes;
  indexes.reserve(keys.size());
  for (std::string_view key : keys) indexes.push_back(StripeOf(key));
  std::sort(indexes.begin(), indexes.end());
  indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  Guard guard;
  guard.locked_.reserve(indexes.size());
  for (size_t i : indexes) {
    stripes_[i].lock();
    guard.locked_.push_back(&stripes_[i]);
  }
  return guard;
}

KeyLocks::Guard KeyLocks::LockAll() {
  Guard guard;
  guard.locked_.reserve(kStripes);
  for (std::mutex& mu : stripes_) {
    mu.lock();
    guard.locked_.push_back(&mu);
  }
  return guard;
}

}  // namespace skeg::server
