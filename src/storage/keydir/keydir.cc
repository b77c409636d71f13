#include "storage/keydir/keydir.h"

#include <algorithm>
#include <mutex>

#include "common/check.h"

namespace skeg::storage {

namespace {

constexpr uint32_t kExpiryFlag = 0x80000000u;
constexpr uint32_t kInternalFlag = 0x40000000u;
constexpr uint32_t kSizeMask = 0x3fffffffu;
constexpr uint32_t kMinCapacity = 8;
// Slots past the last home slot, so a probe run never wraps around (which keeps slots ordered
// by fingerprint). Extended in kTailStep steps when a run reaches the end.
constexpr uint32_t kInitialTail = 8;
constexpr uint32_t kTailStep = 16;
// Grow at 80% load by 1.5x: the load factor stays within [0.53, 0.80].
constexpr uint64_t kMaxLoadNum = 4, kMaxLoadDen = 5;

inline uint32_t Home(uint32_t fp, uint32_t capacity) {
  return static_cast<uint32_t>((static_cast<uint64_t>(fp) * capacity) >> 32);
}

inline RecordLocation ToLocation(const KeyDir::Entry& e) {
  return RecordLocation{e.segment, e.offset, e.size_and_flags & kSizeMask,
                        (e.size_and_flags & kExpiryFlag) != 0,
                        (e.size_and_flags & kInternalFlag) != 0};
}

inline KeyDir::Entry ToEntry(uint32_t fp, const RecordLocation& loc) {
  SKEG_CHECK(loc.size != 0 && loc.size <= KeyDir::kMaxRecordSize);
  return KeyDir::Entry{
      fp, loc.segment, loc.offset,
      loc.size | (loc.has_expiry ? kExpiryFlag : 0) | (loc.internal ? kInternalFlag : 0)};
}

inline bool Occupied(const KeyDir::Entry& e) { return e.size_and_flags != 0; }

}  // namespace

struct KeyDir::Shard {
  mutable std::shared_mutex mu;
  // capacity home slots followed by a tail; size() == capacity + tail.
  std::vector<Entry> slots;
  uint32_t capacity = 0;
  uint32_t count = 0;

  Shard() { Reset(kMinCapacity); }

  void Reset(uint32_t cap) {
    capacity = cap;
    slots.assign(cap + kInitialTail, Entry{0, 0, 0, 0});
    slots.shrink_to_fit();
  }

  // Places `e` without checking load (REQUIRES: exclusive access).
  void Place(const Entry& e) {
    uint32_t i = Home(e.fingerprint, capacity);
    while (true) {
      while (i < slots.size() && Occupied(slots[i])) ++i;
      if (i < slots.size()) break;
      slots.resize(slots.size() + kTailStep, Entry{0, 0, 0, 0});
    }
    slots[i] = e;
  }

  void Rehash(uint32_t new_cap) {
    std::vector<Entry> old;
    old.swap(slots);
    Reset(new_cap);
    for (const Entry& e : old) {
      if (Occupied(e)) Place(e);
    }
  }

  void GrowIfNeeded() {
    if (static_cast<uint64_t>(count + 1) * kMaxLoadDen >
        static_cast<uint64_t>(capacity) * kMaxLoadNum) {
      uint64_t grown = std::max<uint64_t>(kMinCapacity, capacity + capacity / 2);
      SKEG_CHECK(grown < (1ull << 32) - 1024);
      Rehash(static_cast<uint32_t>(grown));
    }
  }
};

KeyDir::KeyDir() {
  for (auto& s : shards_) s = std::make_unique<Shard>();
}

KeyDir::~KeyDir() = default;

size_t KeyDir::Candidates(uint64_t hash, RecordLocation* out, size_t max) const {
  const Shard& s = *shards_[ShardOf(hash)];
  const uint32_t fp = FingerprintOf(hash);
  std::shared_lock lock(s.mu);
  size_t found = 0;
  for (uint32_t i = Home(fp, s.capacity); i < s.slots.size() && Occupied(s.slots[i]); ++i) {
    if (s.slots[i].fingerprint == fp) {
      if (found < max) out[found] = ToLocation(s.slots[i]);
      ++found;
    }
  }
  return found;
}

void KeyDir::Prefetch(uint64_t hash) const {
  const Shard& s = *shards_[ShardOf(hash)];
  std::shared_lock lock(s.mu);  // the slot array may be reallocated by a growing writer
  if (s.capacity == 0) return;
  __builtin_prefetch(&s.slots[Home(FingerprintOf(hash), s.capacity)]);
}

uint64_t KeyDir::ScanShard(uint32_t shard, uint64_t fp_from, size_t max_entries,
                           const std::function<void(uint32_t, const RecordLocation&)>& fn) const {
  constexpr uint64_t kEnd = 1ull << 32;
  if (fp_from >= kEnd) return kEnd;
  const Shard& s = *shards_[shard];
  std::vector<Entry> found;
  bool exhausted = false;
  {
    std::shared_lock lock(s.mu);
    // Entries sit at or after their home and never wrap, and homes are monotonic in the
    // fingerprint. Start at the beginning of the cluster containing home(fp_from); once we
    // stop at an empty slot p, every entry whose home is below p has been seen, and every
    // unseen entry has a larger fingerprint than every seen one.
    uint32_t i = Home(static_cast<uint32_t>(fp_from), s.capacity);
    while (i > 0 && Occupied(s.slots[i - 1])) --i;
    for (; i < s.slots.size(); ++i) {
      const Entry& e = s.slots[i];
      if (!Occupied(e)) {
        if (found.size() >= max_entries) break;
        continue;
      }
      if (e.fingerprint >= fp_from) found.push_back(e);
    }
    exhausted = i >= s.slots.size();
  }
  std::sort(found.begin(), found.end(),
            [](const Entry& a, const Entry& b) { return a.fingerprint < b.fingerprint; });
  for (const Entry& e : found) fn(e.fingerprint, ToLocation(e));
  if (exhausted || found.empty()) return kEnd;
  return static_cast<uint64_t>(found.back().fingerprint) + 1;
}

size_t KeyDir::MemoryUsage() const {
  size_t bytes = sizeof(*this);
  for (const auto& s : shards_) {
    std::shared_lock lock(s->mu);
    bytes += sizeof(Shard) + s->slots.capacity() * sizeof(Entry);
  }
  return bytes;
}

bool KeyDir::WriterFind(uint64_t hash,
                        const std::function<bool(SlotRef, const RecordLocation&)>& fn) const {
  const uint32_t shard = ShardOf(hash);
  const Shard& s = *shards_[shard];
  const uint32_t fp = FingerprintOf(hash);
  for (uint32_t i = Home(fp, s.capacity); i < s.slots.size() && Occupied(s.slots[i]); ++i) {
    if (s.slots[i].fingerprint == fp && fn(SlotRef{shard, i}, ToLocation(s.slots[i]))) return true;
  }
  return false;
}

void KeyDir::WriterInsert(uint64_t hash, const RecordLocation& loc) {
  Shard& s = *shards_[ShardOf(hash)];
  std::unique_lock lock(s.mu);
  s.GrowIfNeeded();
  s.Place(ToEntry(FingerprintOf(hash), loc));
  ++s.count;
  count_.fetch_add(1, std::memory_order_relaxed);
  if (loc.has_expiry) expiring_.fetch_add(1, std::memory_order_relaxed);
  if (loc.internal) internal_.fetch_add(1, std::memory_order_relaxed);
}

void KeyDir::WriterReplace(SlotRef ref, const RecordLocation& loc) {
  Shard& s = *shards_[ref.shard];
  std::unique_lock lock(s.mu);
  SKEG_CHECK(ref.index < s.slots.size() && Occupied(s.slots[ref.index]));
  const bool had_expiry = (s.slots[ref.index].size_and_flags & kExpiryFlag) != 0;
  // A key never changes key space (the space is part of its identity).
  SKEG_CHECK(((s.slots[ref.index].size_and_flags & kInternalFlag) != 0) == loc.internal);
  if (had_expiry != loc.has_expiry) {
    if (loc.has_expiry) {
      expiring_.fetch_add(1, std::memory_order_relaxed);
    } else {
      expiring_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  s.slots[ref.index] = ToEntry(s.slots[ref.index].fingerprint, loc);
}

void KeyDir::WriterErase(SlotRef ref) {
  Shard& s = *shards_[ref.shard];
  std::unique_lock lock(s.mu);
  SKEG_CHECK(ref.index < s.slots.size() && Occupied(s.slots[ref.index]));
  if ((s.slots[ref.index].size_and_flags & kExpiryFlag) != 0) {
    expiring_.fetch_sub(1, std::memory_order_relaxed);
  }
  if ((s.slots[ref.index].size_and_flags & kInternalFlag) != 0) {
    internal_.fetch_sub(1, std::memory_order_relaxed);
  }
  // Backward-shift deletion: pull later members of the run into the hole when their home is
  // at or before it, so lookups never need tombstones.
  uint32_t hole = ref.index;
  for (uint32_t j = hole + 1; j < s.slots.size() && Occupied(s.slots[j]); ++j) {
    if (Home(s.slots[j].fingerprint, s.capacity) <= hole) {
      s.slots[hole] = s.slots[j];
      hole = j;
    }
  }
  s.slots[hole] = Entry{0, 0, 0, 0};
  --s.count;
  count_.fetch_sub(1, std::memory_order_relaxed);
}

void KeyDir::WriterClear() {
  for (auto& s : shards_) {
    std::unique_lock lock(s->mu);
    s->Reset(kMinCapacity);
    s->count = 0;
  }
  count_.store(0, std::memory_order_relaxed);
  expiring_.store(0, std::memory_order_relaxed);
  internal_.store(0, std::memory_order_relaxed);
}

void KeyDir::WriterExport(
    const std::function<void(uint32_t, const std::vector<Entry>&)>& fn) const {
  std::vector<Entry> buf;
  for (uint32_t i = 0; i < kShards; ++i) {
    const Shard& s = *shards_[i];
    buf.clear();
    buf.reserve(s.count);
    for (const Entry& e : s.slots) {
      if (Occupied(e)) buf.push_back(e);
    }
    fn(i, buf);
  }
}

void KeyDir::WriterLoadShard(uint32_t shard, const Entry* entries, size_t n) {
  Shard& s = *shards_[shard];
  std::unique_lock lock(s.mu);
  // Size the table once for the final count instead of growing step by step.
  uint64_t want =
      (static_cast<uint64_t>(s.count + n) * kMaxLoadDen + kMaxLoadNum - 1) / kMaxLoadNum + 1;
  if (want > s.capacity) {
    uint64_t cap = s.capacity;
    while (cap < want) cap = std::max<uint64_t>(kMinCapacity, cap + cap / 2);
    s.Rehash(static_cast<uint32_t>(cap));
  }
  uint64_t expiring = 0, internal = 0;
  for (size_t i = 0; i < n; ++i) {
    SKEG_CHECK(Occupied(entries[i]));
    s.Place(entries[i]);
    expiring += (entries[i].size_and_flags & kExpiryFlag) != 0;
    internal += (entries[i].size_and_flags & kInternalFlag) != 0;
  }
  expiring_.fetch_add(expiring, std::memory_order_relaxed);
  internal_.fetch_add(internal, std::memory_order_relaxed);
  s.count += static_cast<uint32_t>(n);
  count_.fetch_add(n, std::memory_order_relaxed);
}

void KeyDir::WriterForEach(const std::function<void(const RecordLocation&)>& fn) const {
  for (const auto& s : shards_) {
    for (const Entry& e : s->slots) {
      if (Occupied(e)) fn(ToLocation(e));
    }
  }
}

}  // namespace skeg::storage
