// Internal to the page cache (page_cache.cc), in a header for its tests: the cache key and
// S3-FIFO's ghost queue.
//
// Thread-safety: none; the owning PageCache shard serializes access under its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace skeg::storage::cache_internal {

// A cached page: (file id, page number).
struct Key {
  uint64_t file;
  uint64_t page;
  friend bool operator==(const Key&, const Key&) = default;
};

struct KeyHasher {
  size_t operator()(const Key& k) const {
    // splitmix64 of the combined key: cheap and well mixed.
    uint64_t x = k.file * 0x9e3779b97f4a7c15ull + k.page;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return static_cast<size_t>(x ^ (x >> 31));
  }
};

// S3-FIFO's ghost queue: the keys of the last `max` pages evicted from the small queue without
// a hit, in a ring, plus a counting open-addressing table (linear probing, backward-shift
// deletion) answering "is this key in the ring" (a key can be in the ring more than once; a
// hit does not remove it: it ages out with its ring entry). Allocated once: 16 bytes per ring
// entry and 1.5 table slots of 24 bytes per ring entry (load <= 2/3), kGhostBytes per key.
class GhostQueue {
 public:
  explicit GhostQueue(size_t max) : ring_(max), slots_(max == 0 ? 0 : max + max / 2 + 1) {}

  bool Contains(const Key& key) const {
    if (slots_.empty()) return false;
    for (size_t i = Home(key);; i = Next(i)) {
      const Slot& s = slots_[i];
      if (s.count == 0) return false;
      if (s.file == key.file && s.page == key.page) return true;
    }
  }

  // Adds `key` as the newest ghost; the oldest is forgotten once `max` are held.
  void Push(const Key& key) {
    if (ring_.empty()) return;
    if (size_ == ring_.size()) {
      Remove(ring_[head_]);
      head_ = Next(head_, ring_.size());
      --size_;
    }
    ring_[(head_ + size_) % ring_.size()] = key;
    ++size_;
    for (size_t i = Home(key);; i = Next(i)) {
      Slot& s = slots_[i];
      if (s.count == 0) {
        s = Slot{key.file, key.page, 1};
        return;
      }
      if (s.file == key.file && s.page == key.page) {
        ++s.count;
        return;
      }
    }
  }

  size_t size() const { return size_; }
  size_t MemoryUsage() const { return ring_.size() * sizeof(Key) + slots_.size() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t file = 0;
    uint64_t page = 0;
    uint32_t count = 0;  // occurrences in the ring; 0: empty slot
  };

  static size_t Next(size_t i, size_t n) { return i + 1 == n ? 0 : i + 1; }
  size_t Next(size_t i) const { return Next(i, slots_.size()); }
  size_t Home(const Key& key) const {  // multiply-shift range reduction: any size < 2^32
    const uint64_t h32 = KeyHasher()(key) >> 32;
    return static_cast<size_t>((h32 * slots_.size()) >> 32);
  }

  // REQUIRES: `key` is in the ring.
  void Remove(const Key& key) {
    size_t hole = Home(key);
    while (!(slots_[hole].file == key.file && slots_[hole].page == key.page)) {
      if (slots_[hole].count == 0) return;  // absent: nothing to do (cannot happen)
      hole = Next(hole);
    }
    if (--slots_[hole].count > 0) return;
    // Backward shift: move later members of the probe run into the hole.
    const size_t n = slots_.size();
    for (size_t i = Next(hole);; i = Next(i)) {
      const Slot& t = slots_[i];
      if (t.count == 0) break;
      const size_t home = Home(Key{t.file, t.page});
      // t may fill the hole when its home is not cyclically within (hole, i].
      if ((i + n - home) % n >= (i + n - hole) % n) {
        slots_[hole] = t;
        hole = i;
      }
    }
    slots_[hole] = Slot{};
  }

  std::vector<Key> ring_;
  size_t head_ = 0, size_ = 0;
  std::vector<Slot> slots_;
};

}  // namespace skeg::storage::cache_internal
