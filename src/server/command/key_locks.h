// KeyLocks: striped per-key mutexes that make read-modify-write commands atomic.
//
// The Store applies each WriteBatch atomically but offers no compare-and-set, so a command
// that reads a key and writes it back (INCR, APPEND, SET NX/XX/GET, RENAME, EXPIRE ...) would
// race with another client doing the same. Every command that touches keys therefore holds
// the stripes of all its keys for its whole read-modify-write, writes included (a plain SET
// must not slip between an INCR's read and its write). Keys hash onto a fixed number of
// stripes; a multi-key command locks its distinct stripes in ascending index order, so two
// commands can never deadlock. Two keys sharing a stripe only serialise, never conflict.
//
// Reads that are a single Store::Get (GET, STRLEN, TTL, EXISTS) need no lock: the Store
// returns either the value before or after a concurrent batch.
//
// Thread-safety: fully thread-safe. A Guard belongs to the thread that took it and releases
// its stripes when destroyed (or moved-from guard is empty).
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace skeg::server {

class KeyLocks {
 public:
  static constexpr size_t kStripes = 1024;

  KeyLocks() = default;
  KeyLocks(const KeyLocks&) = delete;
  KeyLocks& operator=(const KeyLocks&) = delete;

  // Holds a set of stripes until destroyed.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept
        : one_(std::exchange(other.one_, nullptr)), locked_(std::move(other.locked_)) {
      other.locked_.clear();
    }
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    ~Guard() {
      for (auto it = locked_.rbegin(); it != locked_.rend(); ++it) (*it)->unlock();
      if (one_ != nullptr) one_->unlock();
    }

   private:
    friend class KeyLocks;
    std::mutex* one_ = nullptr;  // a single-key command's stripe: no allocation per command
    std::vector<std::mutex*> locked_;
  };

  // Locks the stripe of one key.
  [[nodiscard]] Guard Lock(std::string_view key);
  // Locks the stripes of every key (duplicates allowed), in a deadlock-free order.
  [[nodiscard]] Guard Lock(std::span<const std::string_view> keys);
  // Locks every stripe (FLUSHDB/FLUSHALL). Blocks until all in-flight key commands finish.
  [[nodiscard]] Guard LockAll();

 private:
  static size_t StripeOf(std::string_view key);
  std::array<std::mutex, kStripes> stripes_;
};

}  // namespace skeg::server
